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

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy
import pyarrow as pa
import pyarrow.compute as pc

from keyreaper.events import linecheck, records, redact
from keyreaper.events.linecheck import CHUNK, Check, FastPathFailed, _check, _secret_keys
from keyreaper.events.schema import COLUMNS, EVENT_SCHEMA

__all__ = ["CHUNK", "Check", "FastPathFailed", "Plan", "_secret_keys", "plan", "run"]

BATCH = 128 * 1024
MEMORY_LIMIT = "1GB"  # DuckDB spills beyond this; keeps ingest within its memory promise


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
    # `keyreaper logs ingest` may have begun checking this file already (linecheck.start).
    early = linecheck.take(path, max_line, not sql.redacts)
    check = early.check if early else Check(flag_secrets=not sql.redacts)
    check.progress = progress
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
        if early:
            thread = early.thread
        else:
            thread = threading.Thread(target=_check, args=(path, max_line, check), daemon=True)
        rows = 0
        try:
            if check.problem:  # found before DuckDB was asked
                raise FastPathFailed(check.problem)
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")  # it would write into our stdout
            con.execute("SET preserve_insertion_order = true")  # line numbers follow order
            if not early:
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
