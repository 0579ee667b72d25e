"""keyreaper exposure: record leaks (HAR files, breach lists, scanner findings), match them to
the inventory, and show every use of an exposed credential after T0."""

from __future__ import annotations

from pathlib import Path

import typer

from keyreaper.cli.context import err, workspace
from keyreaper.cli.output import Format, choose, emit, emit_object
from keyreaper.errors import KeyreaperError
from keyreaper.exposure import intake, lists, store, use
from keyreaper.exposure.intake import FileResult

exposure_app = typer.Typer(
    help="Exposures: HAR files, breach lists, scanner findings; use after exposure.",
    no_args_is_help=True,
)

_FILE_COLUMNS = ["path", "file_type", "status", "items", "occurrences", "earliest", "detail"]


@exposure_app.command("add")
def add_cmd(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="HAR files, breach lists, scanner findings."),
    name: str = typer.Option(..., "--name", help="Name of the exposure (created or extended)."),
    t0: str | None = typer.Option(
        None, "--t0", help="When the leak began (ISO 8601); default: earliest time in the files."
    ),
    file_type: str = typer.Option("auto", "--type", help=f"One of {', '.join(intake.FILE_TYPES)}."),
    raw_secrets: bool = typer.Option(
        False, "--raw-secrets", help="Bare values in text/JSON lists are secrets, not identifiers."
    ),
    accept_partial: bool = typer.Option(
        False, "--accept-partial", help="Keep what was read from a file before its error."
    ),
    description: str = typer.Option("", "--description", help="Free text about the exposure."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Read artifacts into an exposure: fingerprints with kind and evidence, T0, matches."""
    if t0 is not None and lists.parse_time(t0) is None:
        raise KeyreaperError(f"--t0 {t0!r}: not an ISO 8601 time (e.g. 2023-10-18T14:00:00Z)")
    if file_type not in intake.FILE_TYPES:
        raise KeyreaperError(f"--type {file_type!r}: one of {', '.join(intake.FILE_TYPES)}")
    ws = workspace(ctx)
    results: list[FileResult] = []
    for path in files:
        try:
            result = intake.read_file(
                path, ws.fingerprinter, set(ws.keyring.keys), file_type, raw_secrets, accept_partial
            )
        except KeyreaperError as exc:
            result = FileResult(str(path), file_type, "rejected", str(exc))
        results.append(result)
        for warning in result.warnings[:20]:
            err.print(f"warning: {warning}", highlight=False, markup=False)
        if result.status == "rejected":
            err.print(f"error: {result.detail}", highlight=False, markup=False)
    for r in results:
        if r.status != "rejected" and store.has_file(
            ws.db, name, r.path, len(r.items), r.occurrences
        ):
            r.status, r.detail = "skipped", "already added to this exposure with the same content"
    kept = [r for r in results if r.status not in ("rejected", "skipped")]
    if not kept:
        if all(r.status == "skipped" for r in results):
            err.print(f"every file is already in exposure {name!r}; nothing to add")
            return
        raise KeyreaperError(f"no file could be read; exposure {name!r} left unchanged")
    old = store.get(ws.db, name)
    when, source = intake.choose_t0(lists.parse_time(t0) if t0 else None, results, old)
    items = list(intake.merge_results(kept).values())
    store.save(ws.db, name, when, source, items, kept, description)
    summary = next(r for r in store.list_exposures(ws.db) if r["name"] == name)
    file_rows = [
        {
            "path": r.path,
            "file_type": r.file_type,
            "status": r.status,
            "items": len(r.items),
            "occurrences": r.occurrences,
            "earliest": r.earliest.isoformat() if r.earliest else None,
            "detail": r.detail,
        }
        for r in results
    ]
    fmt = choose(as_json)
    if fmt is Format.json:
        emit_object({**summary, "file_results": file_rows}, fmt)
    else:
        emit(file_rows, _FILE_COLUMNS, fmt, title="files")
        emit_object(summary, fmt, title=f"exposure {name}")
    if any(r.status not in ("ok", "skipped") for r in results):
        raise typer.Exit(1)


@exposure_app.command("list")
def list_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
) -> None:
    """Every exposure with T0, counts of items, matches and orphans."""
    rows = store.list_exposures(workspace(ctx).db)
    columns = [
        "name",
        "t0",
        "t0_source",
        "files",
        "items",
        "matched_items",
        "orphans",
        "credentials",
        "created_at",
    ]
    emit(rows, columns, choose(as_json), title="exposures", empty="no exposures")


@exposure_app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The exposure."),
    orphans: bool = typer.Option(False, "--orphans", help="Only items that match no credential."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """One exposure: its T0 and source, files, and every item with evidence and matches."""
    ws = workspace(ctx)
    exp = store.get(ws.db, name)
    if exp is None:
        raise KeyreaperError(f"no exposure named {name!r} (see keyreaper exposure list)")
    store.rematch(ws.db, name)
    rows = [r for r in store.items(ws.db, name) if r["orphan"] or not orphans]
    fmt = choose(as_json)
    head = {
        "name": exp.name,
        "t0": exp.t0.isoformat() if exp.t0 else None,
        "t0_source": exp.t0_source,
        "description": exp.description,
        "created_at": exp.created_at.isoformat() if exp.created_at else None,
    }
    if fmt is Format.json:
        emit_object({**head, "files": store.files(ws.db, name), "items": rows}, fmt)
        return
    emit_object(head, fmt, title=f"exposure {name}")
    for r in rows:
        ev = r["evidence"]
        r["where"] = " ".join(
            str(x)
            for x in (
                ev.get("location") or ev.get("where") or "",
                ev.get("name") or "",
                ev.get("url") or "",
            )
            if x
        )
        r["entries"] = ev.get("entries", "")
    columns = [
        "kind",
        "hint",
        "identifier",
        "credentials",
        "matched_by",
        "occurrences",
        "entries",
        "where",
    ]
    emit(rows, columns, fmt, title="orphans" if orphans else "items", empty="no items")


@exposure_app.command("use")
def use_cmd(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="One exposure (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Every use of an exposed credential after T0, from the event store, with evidence."""
    ws = workspace(ctx)
    names = [name] if name else [r["name"] for r in store.list_exposures(ws.db)]
    if name and store.get(ws.db, name) is None:
        raise KeyreaperError(f"no exposure named {name!r} (see keyreaper exposure list)")
    reports = []
    for n in names:
        store.rematch(ws.db, n)
        reports.extend(use.report(ws.db, ws.events_dir, n, ws.fingerprinter))
    rows = [r.as_dict() for r in reports]
    fmt = choose(as_json)
    if fmt is not Format.json:
        for row in rows:
            row["replayed_sessions"] = len(row["replayed_sessions"])
            row["evidence"] = list(dict.fromkeys(e["origin"] for e in row["evidence"]))
    columns = [
        "exposure",
        "credential_id",
        "verdict",
        "uses",
        "first_use",
        "last_use",
        "new_ips",
        "new_asns",
        "new_user_agents",
        "sessions",
        "replayed_sessions",
        "evidence",
    ]
    emit(
        rows,
        columns,
        fmt,
        title="use after exposure",
        empty="no exposed credential in the inventory",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(exposure_app, name="exposure")
