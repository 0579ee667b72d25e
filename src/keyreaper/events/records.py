"""Small helpers every source shares: reaching into JSON records, tolerant time parsing, and a
builder that turns rows into record batches of EVENT_SCHEMA."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from keyreaper.events.reader import TruncatedInput
from keyreaper.events.schema import COLUMNS, EVENT_SCHEMA

Row = dict[str, Any]
RejectFn = Callable[[str, str], None]  # (location, reason)
BATCH_ROWS = 32 * 1024


class Reject(Exception):
    """A record that cannot become an event; the message is the reason shown to the user."""


def split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def get(record: Any, path: Sequence[str]) -> Any:
    """The value at a dotted path; list elements by index; None when any step is missing."""
    value = record
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
        if value is None:
            return None
    return value


def first(record: Any, paths: Sequence[Sequence[str]]) -> Any:
    """The first present, non-empty value among several paths (sources rename fields)."""
    for path in paths:
        value = get(record, path)
        if value is not None and value != "" and value != []:
            return value
    return None


def text(value: Any) -> str | None:
    """A column value as text: JSON for structures, None for nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def integer(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip().removeprefix("AS"))
    except ValueError:
        return None


def _epoch(number: float) -> int:
    """Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude."""
    magnitude = abs(number)
    if magnitude >= 1e17:
        return int(number // 1000)
    if magnitude >= 1e14:
        return int(number)
    if magnitude >= 1e11:
        return int(number * 1000)
    return int(number * 1_000_000)


def micros(value: Any) -> int:
    """Microseconds since the epoch (UTC) from ISO-8601 text, epoch numbers or Atlassian's
    {"epochSecond", "nano"}; raises Reject when the value is no time."""
    if isinstance(value, bool) or value is None:
        raise Reject("no timestamp")
    if isinstance(value, int | float):
        return _epoch(value)
    if isinstance(value, dict) and "epochSecond" in value:
        return int(value["epochSecond"]) * 1_000_000 + int(value.get("nano") or 0) // 1000
    if isinstance(value, str):
        s = value.strip()
        if s.lstrip("-").replace(".", "", 1).isdigit():
            return _epoch(float(s) if "." in s else int(s))
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            raise Reject(f"unreadable timestamp {s[:40]!r}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return round(dt.timestamp() * 1_000_000)
    raise Reject(f"unreadable timestamp {text(value)!r:.40}")


class BatchBuilder:
    """Collects rows column by column and cuts record batches of EVENT_SCHEMA."""

    def __init__(self) -> None:
        self._cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        self.rows = 0

    def add(self, row: Row) -> None:
        for name, values in self._cols.items():
            values.append(row.get(name))
        self.rows += 1

    def full(self) -> bool:
        return self.rows >= BATCH_ROWS

    def flush(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self._cols, schema=EVENT_SCHEMA)
        self._cols = {c: [] for c in COLUMNS}
        self.rows = 0
        return batch


def batched(rows: Iterable[Row]) -> Iterator[pa.RecordBatch]:
    """Cut rows into record batches; on truncated input, keep what was read before it."""
    builder = BatchBuilder()
    try:
        for row in rows:
            builder.add(row)
            if builder.full():
                yield builder.flush()
    except TruncatedInput:
        if builder.rows:
            yield builder.flush()
        raise
    if builder.rows:
        yield builder.flush()
