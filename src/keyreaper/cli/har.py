"""keyreaper har: work on HAR files without a workspace (sanitize before sharing)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from keyreaper.cli.context import err
from keyreaper.cli.output import choose, emit
from keyreaper.exposure import har
from keyreaper.exposure.sanitize import sanitize_file
from keyreaper.fingerprint import hint

har_app = typer.Typer(
    help="Work on HAR files: see what secrets they hold, sanitize before sharing.",
    no_args_is_help=True,
)


@har_app.command("sanitize")
def sanitize_cmd(
    src: Path = typer.Argument(..., help="The HAR to sanitize (read, never changed)."),
    dst: Path = typer.Argument(..., help="Where to write the sanitized HAR (atomically)."),
    keep: list[str] = typer.Option(
        [], "--keep", help="Spare the cookie, header or parameter of this name (repeatable)."
    ),
    max_body_mb: int = typer.Option(
        64, "--max-body-mb", help="Bodies larger than this are removed, as they cannot be checked."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON list of what was removed."),
) -> None:
    """Remove every secret, cookie and auth header from a HAR; print what went, by kind and hint."""
    san = sanitize_file(src, dst, tuple(keep), max_body_mb * 2**20)
    rows = [
        {"kind": kind, "where": where, "name": name, "hint": hint, "count": count}
        for (kind, where, name, hint), count in sorted(san.removed.items())
    ]
    emit(
        rows,
        ["kind", "where", "name", "hint", "count"],
        choose(as_json),
        title="removed",
        empty="nothing to remove",
    )
    total = sum(san.removed.values())
    err.print(f"removed {total} value(s) in {san.entries} entries; wrote {dst}", highlight=False)


@har_app.command("scan")
def scan_cmd(
    src: Path = typer.Argument(..., help="The HAR to look into."),
    max_body_mb: int = typer.Option(
        64, "--max-body-mb", help="Bodies larger than this are reported, not scanned."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON list of what was found."),
) -> None:
    """List the secrets the extractor finds in a HAR, by kind and hint, without a workspace."""
    stats = har.HarStats()
    found: Counter[tuple[str, str, str, str, str]] = Counter()
    for occ in har.extract(src, stats, max_body_mb * 2**20):
        h = occ.hit
        found[
            (h.kind, occ.location, h.name[:60], hint(h.value) if h.value else "", h.identifier[:80])
        ] += 1
    rows = [
        {"kind": k, "where": w, "name": n, "hint": hi, "identifier": i, "count": c}
        for (k, w, n, hi, i), c in sorted(found.items())
    ]
    emit(
        rows,
        ["kind", "where", "name", "hint", "identifier", "count"],
        choose(as_json),
        title="found",
        empty="no secrets found",
    )
    for warning in stats.warnings[:20]:
        err.print(f"warning: {warning}", highlight=False, markup=False)
    err.print(f"{sum(found.values())} finding(s) in {stats.entries} entries", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(har_app, name="har")
