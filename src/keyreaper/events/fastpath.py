"""The fast path for clean JSON-lines files: DuckDB reads the file in parallel and extracts
every mapped path from each record's text, while a second thread hashes the file and checks
what DuckDB cannot tell us (blank lines that would shift line numbers, over-long lines,
invalid UTF-8). Any doubt raises FastPathFailed before the result is committed, and the
pipeline re-reads the file on the exact per-record path, which reports each bad line.

Because the mapped paths are extracted from the raw text of every record, no field is lost
to DuckDB's schema sampling, and the raw record is kept byte for byte.

Redaction of secret-named values: with Hyperscan installed, the checking thread finds the
few lines that may hold one (a superset) in the same pass, and those rows alone go through
the exact per-record rule (redact.json_text); without it, DuckDB tests every record with RE2,
which costs as much as the JSON extraction itself.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy
import pyarrow as pa
import pyarrow.compute as pc

from keyreaper.events import records, redact
from keyreaper.events.schema import COLUMNS, EVENT_SCHEMA

_hs: Any
try:  # an optional extra (scan, hunt): without it DuckDB runs the redaction test
    import hyperscan as _hs
except ImportError:  # pragma: no cover
    _hs = None

CHUNK = 1 << 22
BATCH = 128 * 1024
MEMORY_LIMIT = "1GB"  # DuckDB spills beyond this; keeps ingest within its memory promise
# Any key ending in a secret word, then '"', blanks and ':' — every line redact.json_text would
# change holds this (JSON allows no other blank between a key and its colon).
_SECRET_KEY = rb"(?:" + redact.WORDS.encode() + rb')"[\s\x1c-\x1f]*:'
_secret_db: Any = None


def _secret_keys() -> Any:
    """The compiled Hyperscan stream database for _SECRET_KEY (built once), or None."""
    global _secret_db
    if _hs is not None and _secret_db is None:
        db = _hs.Database(mode=_hs.HS_MODE_STREAM)
        db.compile(expressions=[_SECRET_KEY], ids=[0], flags=[_hs.HS_FLAG_CASELESS])
        _secret_db = db
    return _secret_db


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
    progress: Callable[[int, int], None] | None = None  # (bytes, lines) so far
    flag_secrets: bool = False  # find the lines that may hold a secret-named key
    flagged: list[int] = field(default_factory=list)  # their line numbers, ascending
    covered: threading.Condition = field(default_factory=threading.Condition)
    done: bool = False

    def fail(self, problem: str) -> None:
        if not self.problem:
            self.problem = problem
            if self.abort is not None:
                self.abort()

    def advance(self, lines: int, flagged: list[int], finished: bool = False) -> None:
        with self.covered:
            self.flagged.extend(flagged)
            self.lines += lines
            self.done = self.done or finished
            self.covered.notify_all()

    def wait(self, lines: int) -> None:
        """Block until the first `lines` lines are checked (or checking stopped)."""
        with self.covered:
            self.covered.wait_for(lambda: self.done or self.lines >= lines)


def _check(path: Path, max_line: int, result: Check) -> None:
    """Hash the file; find what would make record numbers differ from line numbers (a line
    not starting with '{'), lines over the limit, invalid UTF-8 and gzip truncation; and,
    when asked, the lines that may hold a secret-named key."""
    digest = hashlib.sha256()
    hits: list[int] = []  # end offsets of secret-key matches in the decompressed stream

    def on_match(_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
        hits.append(end)

    secrets = _secret_keys() if result.flag_secrets else None
    stream = secrets.stream(match_event_handler=on_match) if secrets is not None else None
    try:
        with (
            open(path, "rb") as raw,
            stream if stream is not None else contextlib.nullcontext() as scanner,
        ):
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
            carry = 0  # length of the unfinished line from earlier chunks
            at_line_start = True
            pending = b""  # bytes after the last newline, not yet checked as UTF-8
            base = 0  # stream offset of `data`
            while chunk := raw.read(CHUNK):
                digest.update(chunk)
                result.bytes_read += len(chunk)
                data = inflate.decompress(chunk) if inflate else chunk
                if not data:
                    continue
                # A chunk may cut a character in two: check whole lines only.
                cut = data.rfind(b"\n") + 1
                if not (pending.isascii() and data.isascii()):
                    try:
                        (pending + data[:cut]).decode()
                    except UnicodeDecodeError:
                        result.fail("invalid UTF-8")
                pending = pending + data if cut == 0 else data[cut:]
                arr = numpy.frombuffer(data, dtype=numpy.uint8)
                ends = numpy.flatnonzero(arr == 10)
                if at_line_start and data[:1] != b"{":
                    result.fail("a line that does not start with '{'")
                if len(ends):
                    starts = ends[:-1] + 1 if ends[-1] == len(data) - 1 else ends + 1
                    if len(starts) and not bool((arr[starts] == 123).all()):
                        result.fail("a line that does not start with '{'")
                    longest = max(int(ends[0]) + carry, int(numpy.diff(ends).max(initial=0)))
                    carry = len(data) - int(ends[-1]) - 1
                    at_line_start = carry == 0
                else:
                    carry += len(data)
                    longest = carry
                    at_line_start = False
                if longest > max_line:
                    result.fail("over-long line")
                if result.problem:
                    return
                flagged: list[int] = []
                if scanner is not None:
                    scanner.scan(data)
                    if hits:  # a match's last byte lies in this chunk: count lines before it
                        last = numpy.array(hits, dtype=numpy.int64) - 1 - base
                        before = numpy.searchsorted(ends, last)
                        flagged = sorted({result.lines + 1 + int(n) for n in before})
                        hits.clear()
                base += len(data)
                result.advance(len(ends), flagged)
                if result.progress is not None:
                    result.progress(result.bytes_read, result.lines)
            if inflate is not None and not inflate.eof:
                result.fail("truncated gzip")
            if carry:
                result.advance(1, [])  # a last line without a newline
                try:
                    pending.decode()
                except UnicodeDecodeError:
                    result.fail("invalid UTF-8")
    except (OSError, zlib.error, gzip.BadGzipFile) as exc:
        result.error = exc
    finally:
        result.sha256 = digest.hexdigest()
        result.advance(0, [], finished=True)


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
    redacts: bool = True  # the SQL redacts secret-named values (else run() does, per line)


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
    in_sql = _secret_keys() is None

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
        if column == "raw" and not in_sql:
            # VARCHAR, not DuckDB's JSON type: every store file must agree on the type.
            outer.append("CAST(raw AS VARCHAR) AS raw")
            continue
        if column == "raw":
            # secret-named values are redacted; hashes (hashed_token) are not secrets
            outer.append(
                f"CAST(CASE WHEN regexp_matches(raw, {_lit(redact.DUCKDB_QUICK)})"
                f" THEN regexp_replace(raw, {_lit('(?i)' + redact.DUCKDB_KEY)},"
                f" '\"\\1\":\"{redact.REDACTED}\"', 'g') ELSE raw END AS VARCHAR) AS raw"
            )
            continue
        if column == "origin":
            outer.append("CAST(NULL AS VARCHAR) AS origin")  # file:line, added in order
            continue
        expr = overrides.get(column) or (column if column in inner else "NULL")
        if column == "src_asn":
            pattern = _lit(records.INTEGER_TEXT)
            expr = f"try_cast(regexp_extract({expr}, {pattern}, 1) AS BIGINT)"
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
        "SELECT row_number() OVER () AS _n, CAST(json AS VARCHAR) AS raw,"
        f" json_extract_string(json, {path_list}) AS v"
        f" FROM read_ndjson_objects({_lit(str(file))}, maximum_object_size = {max_line + 1})))"
    )
    return Plan(tuple(paths), select, in_sql)


def run(
    sql: Plan,
    path: Path,
    origin: str,
    max_line: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Iterator[pa.RecordBatch], Check]:
    """Stream the events of `path` as record batches in file order (DuckDB keeps insertion
    order), numbering lines as they come, while the checking thread hashes the file and
    reports progress (bytes, lines). After the iterator ends, `Check` holds the hash.
    Raises FastPathFailed, possibly mid-stream, when the file needs the exact path."""
    check = Check(progress=progress, flag_secrets=not sql.redacts)
    origin_index = EVENT_SCHEMA.get_field_index("origin")
    raw_index = EVENT_SCHEMA.get_field_index("raw")
    seen = 0  # check.flagged[:seen] are lines of earlier batches

    def redacted(batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
        """Rows on lines the checking thread flagged go through the exact rule."""
        nonlocal seen
        check.wait(first + batch.num_rows - 1)
        with check.covered:
            lines = [n for n in check.flagged[seen:] if n < first + batch.num_rows]
        seen += len(lines)
        if not lines:
            return batch
        index = pa.array([n - first for n in lines], pa.int64())
        column = batch.column(raw_index)
        values = [redact.json_text(v) for v in column.take(index).to_pylist()]
        mask = numpy.zeros(batch.num_rows, dtype=bool)
        mask[[n - first for n in lines]] = True
        column = pc.replace_with_mask(column, pa.array(mask), pa.array(values, pa.string()))
        return batch.set_column(raw_index, "raw", column)

    def batches() -> Iterator[pa.RecordBatch]:
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
        check.abort = con.interrupt
        thread = threading.Thread(target=_check, args=(path, max_line, check), daemon=True)
        rows = 0
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")  # it would write into our stdout
            con.execute("SET preserve_insertion_order = true")  # line numbers follow order
            thread.start()
            for batch in con.sql(sql.select).to_arrow_reader(BATCH):
                if check.problem:
                    raise FastPathFailed(check.problem)
                numbers = pa.array(numpy.arange(rows + 1, rows + 1 + batch.num_rows))
                origins = pc.binary_join_element_wise(
                    origin + ":", pc.cast(numbers, pa.string()), ""
                )
                if check.flag_secrets:
                    batch = redacted(batch, rows + 1)
                rows += batch.num_rows
                batch = batch.set_column(origin_index, "origin", origins)
                yield batch.cast(EVENT_SCHEMA)
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            # DuckDB errors surface as OSError through the Arrow stream.
            raise FastPathFailed(check.problem or str(exc).splitlines()[0]) from exc
        finally:
            if thread.ident is not None:
                thread.join()
            con.close()
        problem = check.problem or (f"check failed: {check.error}" if check.error else "")
        if not problem and rows != check.lines:
            problem = f"{rows} records from {check.lines} lines"
        if problem:
            raise FastPathFailed(problem)

    return batches(), check
