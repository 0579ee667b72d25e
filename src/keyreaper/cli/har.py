"""keyreaper har: work on HAR files without a workspace (sanitize before sharing)."""

from __future__ import annotations

from pathlib import Path

import typer

from keyreaper.cli.context import err
from keyreaper.cli.output import choose, emit
from keyreaper.exposure.sanitize import sanitize_file

har_app = typer.Typer(help="Work on HAR files: sanitize before sharing.", no_args_is_help=True)


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


def register(app: typer.Typer) -> None:
    app.add_typer(har_app, name="har")
