"""keyreaper logs: ingest auth and audit logs into the event store, and show what it covers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keyreaper.cli.context import err, out, workspace
from keyreaper.cli.output import choose, emit
from keyreaper.errors import InputError, Location
from keyreaper.events import linecheck

if TYPE_CHECKING:
    from keyreaper.events.ingest import Summary

# DuckDB, pyarrow and the sources are imported inside the commands: `logs ingest` first
# starts checking its first file (linecheck.start), which then runs on the idle core while
# the interpreter spends most of a second importing them.

SHOW_REJECTS = 20

logs = typer.Typer(help="Ingest auth and audit logs; show the sources the event store covers.")


def _summary_rows(summary: Summary) -> list[dict[str, object]]:
    return [
        {
            "path": f.path,
            "source": f.source,
            "status": f.status,
            "events": f.events,
            "rejected": f.rejected,
            "message": f.message,
            "sha256": f.sha256,
        }
        for f in summary.files
    ]


@logs.command("ingest")
def ingest_cmd(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Log files or folders (.gz is read as gzip)."),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="Force a format instead of detecting it (see logs formats)."
    ),
    maps: list[Path] = typer.Option(
        [], "--map", help="A TOML field map for JSON lines (repeatable); its name is a format."
    ),
    max_line: int = typer.Option(
        16 << 20, "--max-line", help="Longest line kept, in bytes; longer lines are rejected."
    ),
    rejects_file: Path | None = typer.Option(
        None, "--rejects", help="Write every rejected line (JSON lines: location, reason)."
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="JSON summary per file."),
) -> int:
    """Ingest log files into the event store (streaming; the same file twice adds nothing)."""
    first = next((p for p in paths if p.is_file()), None)
    if first is not None:
        linecheck.start(first, max_line)
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    from keyreaper.events import fieldmap
    from keyreaper.events.ingest import Ingest, expand
    from keyreaper.events.store import EventStore

    ws = workspace(ctx)
    for path in paths:
        if not path.exists():
            raise InputError(Location(str(path)), "no such file or folder")
    field_maps = [fieldmap.load(m) for m in maps]
    files = expand(paths)
    total = sum(p.stat().st_size for p in files if p.is_file())
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[events]:,} events {task.fields[eps]:,.0f}/s"),
        TimeElapsedColumn(),
        console=err,
        disable=no_progress,
        transient=True,
    )
    started = time.monotonic()
    done_bytes = 0
    done_events = 0
    with progress:
        task = progress.add_task("ingest", total=total or 1, events=0, eps=0.0)

        def tick(file_bytes: int, file_events: int) -> None:
            events = done_events + file_events
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task, completed=done_bytes + file_bytes, events=events, eps=events / elapsed
            )

        job = Ingest(
            ws.db,
            EventStore(ws.events_dir),
            fmt=fmt,
            maps=field_maps,
            max_line=max_line,
            progress=tick,
        )
        for path in files:
            progress.update(task, description=path.name[-40:])
            result = job.one(path)
            job.summary.files.append(result)
            done_bytes += path.stat().st_size if path.is_file() else 0
            done_events += result.events if result.status in ("ingested", "partial") else 0
            tick(0, 0)
    summary = job.summary
    elapsed = time.monotonic() - started
    if rejects_file is not None:
        with open(rejects_file, "w", encoding="utf-8") as fh:
            for r in summary.rejects:
                fh.write(json.dumps({"location": r.location, "reason": r.reason}) + "\n")
    if as_json:
        emit(_summary_rows(summary), [], choose(True))
    else:
        emit(
            _summary_rows(summary),
            ["path", "source", "status", "events", "rejected", "message"],
            choose(False),
            title="ingest",
        )
        out.print(
            f"{summary.events:,} events from {len(summary.files)} file(s) in {elapsed:.1f} s; "
            f"{summary.rejected_total:,} rejected"
        )
    for r in summary.rejects[:SHOW_REJECTS]:
        err.print(f"rejected {r.location}: {r.reason}", highlight=False, markup=False)
    if summary.rejected_total > SHOW_REJECTS:
        more = summary.rejected_total - SHOW_REJECTS
        err.print(f"... and {more:,} more (use --rejects FILE for all)")
    bad = any(f.status in ("failed", "unrecognized", "partial") for f in summary.files)
    return 1 if bad or summary.rejected_total else 0


@logs.command("sources")
def sources_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Per source: time range covered, events per event type, and gap days."""
    from keyreaper.events.store import EventStore
    from keyreaper.usage.coverage import coverage

    ws = workspace(ctx)
    rows = [
        {
            "source": c.source,
            "first": c.first.isoformat(),
            "last": c.last.isoformat(),
            "events": c.events,
            "event_types": c.event_types,
            "gaps": [str(g) for g in c.gaps],
            "gap_days": sum(g.days for g in c.gaps),
        }
        for c in coverage(EventStore(ws.events_dir)).values()
    ]
    if not as_json:
        for row in rows:
            types = row["event_types"]
            assert isinstance(types, dict)
            top = sorted(types.items(), key=lambda kv: -kv[1])[:3]
            row["event_types"] = [f"{k}={v}" for k, v in top] + (
                [f"+{len(types) - 3} more"] if len(types) > 3 else []
            )
            gaps = row["gaps"]
            assert isinstance(gaps, list)
            if len(gaps) > 3:
                row["gaps"] = [*gaps[:3], f"+{len(gaps) - 3} more"]
    emit(
        rows,
        ["source", "first", "last", "events", "event_types", "gaps"],
        choose(as_json),
        title="event store coverage",
        empty="no events ingested yet (keyreaper logs ingest PATH)",
    )


@logs.command("formats")
def formats_cmd(
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
    maps: list[Path] = typer.Option([], "--map", help="Also list these TOML field maps."),
) -> None:
    """The log formats keyreaper reads (names for --format), in detection order."""
    from keyreaper.events import fieldmap
    from keyreaper.events.sources import all_sources

    sources = all_sources([fieldmap.load(m) for m in maps])
    rows = [
        {
            "name": name,
            "description": getattr(s, "description", ""),
            "usage_event_types": list(s.usage_event_types),
        }
        for name, s in sources.items()
    ]
    emit(rows, ["name", "description", "usage_event_types"], choose(as_json), title="formats")


def register(app: typer.Typer) -> None:
    app.add_typer(logs, name="logs")
