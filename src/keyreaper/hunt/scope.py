"""What a hunt reads: the event store's files and the [since, until) window clause.

Kept apart from keyreaper.events.store, which imports pyarrow (a third of a second at every
start) for writing; a hunt only needs the file names."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any


def event_files(events_dir: Path) -> list[Path]:
    """The event store's Parquet files, as EventStore.files() lists them."""
    return sorted(p for p in events_dir.rglob("*.parquet") if not p.name.startswith("."))


def time_window(since: datetime | None, until: datetime | None) -> tuple[list[str], list[Any]]:
    """SQL conditions and their parameters keeping events in [since, until)."""
    conditions: list[str] = []
    params: list[Any] = []
    if since:
        conditions.append("time >= ?")
        params.append(since)
    if until:
        conditions.append("time < ?")
        params.append(until)
    return conditions, params
