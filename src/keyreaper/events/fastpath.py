"""The fast path for clean JSON-lines files: DuckDB reads the file in parallel and extracts
every mapped path from each record's text, while a second thread hashes the file and checks
what DuckDB cannot tell us (blank lines that would shift line numbers, over-long lines,
invalid UTF-8). Any doubt raises FastPathFailed before the result is committed, and the
pipeline re-reads the file on the exact per-record path, which reports each bad line.

Because the mapped paths are extracted from the raw text of every record, no field is lost
to DuckDB's schema sampling, and the raw record is kept byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from keyreaper.events.schema import COLUMNS, EVENT_SCHEMA

CHUNK = 1 << 22
_BLANK = re.compile(rb"(?:^|\n)[ \t\r]*\n")


class FastPathFailed(Exception):
    """This file needs the exact path (its reason is for the debug log only)."""


@dataclass
class Check:
    """What the checking thread learned about the file."""

    sha256: str = ""
    bytes_read: int = 0
    lines: int = 0
    problem: str = ""
    error: BaseException | None = None
    abort: Callable[[], None] | None = None  # stops DuckDB once the file is known bad

    def fail(self, problem: str) -> None:
        if not self.problem:
            self.problem = problem
            if self.abort is not None:
                self.abort()


def _blank(block: bytes) -> bool:
    if b"\n\n" in block or b"\n\r\n" in block:
        return True
    return (b"\n " in block or b"\n\t" in block) and _BLANK.search(block) is not None


def _check(path: Path, max_line: int, result: Check) -> None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
            tail = b""
            while chunk := raw.read(CHUNK):
                digest.update(chunk)
                result.bytes_read += len(chunk)
                data = inflate.decompress(chunk) if inflate else chunk
                if not data:
                    continue
                block = tail + data
                if _blank(block) or (not result.lines and block[:1] in b"\n\r"):
                    result.fail("blank lines")
                cut = block.rfind(b"\n")
                whole, tail = (block[: cut + 1], block[cut + 1 :]) if cut >= 0 else (b"", block)
                result.lines += whole.count(b"\n")
                if len(tail) > max_line or (whole and max(map(len, whole.split(b"\n"))) > max_line):
                    result.fail("over-long line")
                try:
                    whole.decode()
                except UnicodeDecodeError:
                    result.fail("invalid UTF-8")
                if result.problem:
                    return
            if inflate is not None and not inflate.eof:
                result.fail("truncated gzip")
            if tail.strip():
                result.lines += 1
                try:
                    tail.decode()
                except UnicodeDecodeError:
                    result.fail("invalid UTF-8")
    except (OSError, zlib.error, gzip.BadGzipFile) as exc:
        result.error = exc
    finally:
        result.sha256 = digest.hexdigest()


def json_path(dotted: str) -> str:
    """a.0.b -> $."a"[0]."b" (keys quoted so '@timestamp' and dashes work)."""
    out = "$"
    for part in dotted.split("."):
        out += f"[{part}]" if part.isdigit() else '."' + part.replace('"', '\\"') + '"'
    return out


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Plan:
    """The SQL that turns the records of one file into EVENT_SCHEMA rows."""

    paths: tuple[str, ...]
    select: str


def plan(
    source: str,
    file: Path,
    origin: str,
    max_line: int,
    fields: dict[str, tuple[tuple[str, ...], ...]],
    time: tuple[tuple[str, ...], ...],
    outcome: tuple[tuple[str, ...], ...],
    outcome_values: dict[str, str],
    constants: dict[str, str],
    helpers: dict[str, tuple[tuple[str, ...], ...]],
    overrides: dict[str, str],
) -> Plan:
    paths: list[str] = []

    def slot(parts: tuple[str, ...]) -> str:
        dotted = ".".join(parts)
        if dotted not in paths:
            paths.append(dotted)
        return f"v[{paths.index(dotted) + 1}]"

    def first(options: tuple[tuple[str, ...], ...]) -> str:
        cols = [f"nullif(nullif({slot(p)}, ''), '[]')" for p in options]
        return cols[0] if len(cols) == 1 else f"coalesce({', '.join(cols)})"

    inner: dict[str, str] = {}
    for column in COLUMNS:
        if column in fields:
            inner[column] = first(fields[column])
        elif column in constants:
            inner[column] = _lit(constants[column])
    times = [f"try_cast({first((p,))} AS TIMESTAMPTZ)" for p in time]
    inner["time"] = times[0] if len(times) == 1 else f"coalesce({', '.join(times)})"
    if outcome:
        cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in outcome_values.items())
        raw = first(outcome)
        inner["outcome"] = (
            f"CASE WHEN {raw} IS NULL THEN {inner.get('outcome', 'NULL')}"
            f" ELSE (CASE lower({raw}) {cases} ELSE 'unknown' END) END"
        )
    for name, options in helpers.items():
        inner[name] = first(options)
    middle = ", ".join(f"{expr} AS {name}" for name, expr in inner.items())
    outer: list[str] = []
    for column in COLUMNS:
        if column == "source":
            outer.append(f"{_lit(source)} AS source")
            continue
        if column == "raw":
            outer.append("raw")
            continue
        if column == "origin":
            outer.append(f"{_lit(origin + ':')} || CAST(_n AS VARCHAR) AS origin")
            continue
        expr = overrides.get(column) or (column if column in inner else "NULL")
        if column == "src_asn":
            expr = f"try_cast({expr} AS BIGINT)"
        elif column == "time":
            expr = (
                f"CASE WHEN {expr} IS NULL THEN error('record without a readable time')"
                f" ELSE {expr} END"
            )
        elif column == "event_type":
            expr = (
                f"CASE WHEN {expr} IS NULL THEN error('record without an event type')"
                f" ELSE CAST({expr} AS VARCHAR) END"
            )
        else:
            expr = f"CAST({expr} AS VARCHAR)"
        outer.append(f"{expr} AS {column}")
    path_list = "[" + ", ".join(_lit(json_path(p)) for p in paths) + "]"
    select = (
        "SELECT " + ", ".join(outer) + f" FROM (SELECT _n, raw, {middle} FROM ("
        "SELECT row_number() OVER () AS _n, json AS raw,"
        f" json_extract_string(json, {path_list}) AS v"
        f" FROM read_ndjson_objects({_lit(str(file))}, maximum_object_size = {max_line + 1})))"
    )
    return Plan(tuple(paths), select)


def run(
    sql: Plan,
    path: Path,
    max_line: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[Iterator[pa.RecordBatch], Check]:
    """Stream batches; after the iterator ends, `Check` holds the hash. Raises
    FastPathFailed (possibly mid-stream) when the file needs the exact path."""
    check = Check()

    def batches() -> Iterator[pa.RecordBatch]:
        con = duckdb.connect()
        check.abort = con.interrupt
        thread = threading.Thread(target=_check, args=(path, max_line, check), daemon=True)
        thread.start()
        rows = 0
        try:
            con.execute("SET TimeZone = 'UTC'")
            reader = con.sql(sql.select).to_arrow_reader(64 * 1024)
            for batch in reader:
                if check.problem:
                    raise FastPathFailed(check.problem)
                rows += batch.num_rows
                if progress:
                    progress(check.bytes_read)
                yield batch.cast(EVENT_SCHEMA) if batch.schema != EVENT_SCHEMA else batch
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            # DuckDB errors surface as OSError through the Arrow stream.
            raise FastPathFailed(check.problem or str(exc).splitlines()[0]) from exc
        finally:
            thread.join()
            con.close()
        if check.error is not None:
            raise FastPathFailed(f"check failed: {check.error}")
        if check.problem:
            raise FastPathFailed(check.problem)
        if rows != check.lines:
            raise FastPathFailed(f"{rows} records from {check.lines} lines")

    return batches(), check
