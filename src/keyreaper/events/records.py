"""Small helpers every source shares: reaching into JSON records, tolerant time parsing, and a
builder that turns rows into record batches of EVENT_SCHEMA."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
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
    """A column value as text: JSON for structures, None for nothing. Numbers and structures
    are written the way DuckDB's JSON functions write them, so the fast path and this one
    give the same text for the same record."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return _json(value)


_LONG_DIGITS = re.compile(rb"\d{20}|-\d{19}")  # may not fit 64 bits, which orjson needs


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes) -> Any:
    """Parse one JSON text: orjson, or the standard parser when the text holds an integer
    that may not fit 64 bits (orjson turns those into lossy floats). Raises ValueError."""
    if _LONG_DIGITS.search(data):
        return json.loads(data, parse_constant=_no_constant)
    return orjson.loads(data)


def json_text(record: Any) -> str:
    """A parsed record back to compact JSON text (orjson refuses integers over 64 bits)."""
    try:
        return orjson.dumps(record).decode()
    except TypeError:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def number_text(value: float) -> str:
    """A float as DuckDB (yyjson) writes it: the shortest digits that read back the same,
    in plain notation with a fraction when the decimal exponent is in [-6, 21), otherwise
    as `1.5e300` / `1e-7` (Python's repr would say 1e+16 and 1e-07)."""
    if value != value or value in (float("inf"), float("-inf")):
        return repr(value)
    sign, digits, exp = Decimal(repr(value)).as_tuple()
    assert isinstance(exp, int)
    figures = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + exp  # where the decimal point falls in `digits`
    minus = "-" if sign else ""
    if figures == "0":
        return f"{minus}0.0"
    if -6 <= point - 1 < 21:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{figures}"
        whole, fraction = figures[:point].ljust(point, "0"), figures[point:]
        return f"{minus}{whole}.{fraction or '0'}"
    mantissa = figures[0] + (f".{figures[1:]}" if len(figures) > 1 else "")
    return f"{minus}{mantissa}e{point - 1}"


_ESCAPES = re.compile(r"\\\\|\\u00[0-9a-f]{2}")  # an escaped backslash, or \u00xx


def _upper(match: re.Match[str]) -> str:
    escape = match.group(0)
    return escape if escape == "\\\\" else "\\u00" + escape[4:].upper()


def _json(value: Any) -> str:
    """Minified JSON with DuckDB's number text and upper-case control escapes; integers of
    any size stay exact (orjson refuses those over 64 bits)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json(str(k))}:{_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, str):
        return _ESCAPES.sub(_upper, orjson.dumps(value).decode())
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, int):
        return str(value)
    return _json(str(value))


# An integer as text, maybe "AS"-prefixed or with a zero fraction ("64500", "AS64500",
# "64500.0"); the fast path applies the same pattern in DuckDB (fastpath.INTEGER_SQL).
INTEGER_TEXT = r"^[ \t\n\r]*(?:AS)?([+-]?[0-9]+)(?:\.0*)?[ \t\n\r]*$"
_INTEGER = re.compile(INTEGER_TEXT)


def integer(value: Any) -> int | None:
    """A BIGINT column value, or None when it is no whole number or does not fit 64 bits."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = number_text(value)  # read from the text DuckDB would see, as the fast path
    if not isinstance(value, int):
        found = _INTEGER.match(value) if isinstance(value, str) else None
        value = int(found.group(1)) if found else None
    return value if value is not None and -(2**63) <= value < 2**63 else None


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
