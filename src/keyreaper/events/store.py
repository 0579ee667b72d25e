"""The event store: Parquet files under the workspace, queried with DuckDB through one view.

Layout: <events_dir>/<source>/<name>.parquet (partitioned by source; the ingest pipeline
names a file after the content hash of the log it came from), every file in EVENT_SCHEMA.
A file is written to a temporary name and renamed, so a crash never leaves a half file in the
view. Row groups carry min/max statistics, so DuckDB skips groups outside a time filter.
The view reads files by name with union_by_name, so files written before a column was added
still read (the new column is NULL there).
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from keyreaper.events.schema import EVENT_SCHEMA

ROW_GROUP = 256 * 1024
_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "timestamp[us, tz=UTC]": "TIMESTAMPTZ"}
# raw and origin differ on every row: a dictionary attempt and min/max statistics (no query
# filters on them) only cost time there.
_UNIQUE = ("raw", "origin")
_REPEATING = [name for name in EVENT_SCHEMA.names if name not in _UNIQUE]
# A dictionary pays only where few values repeat: on ids, names, IPs and user agents its
# attempt (and its fallback once the page grows) cost ~15 % of the write for no smaller file
# (zstd finds the repeats; 256 MiB of generated Okta lines: 28.0 MB without, 30.6 MB with).
# zstd's fast negative level on the raw records: compressing them was the largest single cost
# of an ingest; level -3 cuts it by a fifth of the write's CPU for files ~45 % larger
# (256 MiB of generated Okta lines: 40.9 MB vs 28.0 MB at level 1; ~1 s less CPU per GiB).
_LEVELS = {name: (-3 if name == "raw" else 1) for name in EVENT_SCHEMA.names}
_FEW_VALUES = [
    "source",
    "event_type",
    "category",
    "outcome",
    "actor_type",
    "credential_kind",
    "target_type",
]


class EventStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*.parquet") if not p.name.startswith("."))

    def write(
        self, source: str, batches: Iterable[pa.RecordBatch], name: str | None = None
    ) -> Path | None:
        """Write one Parquet file of events for `source`; returns its path (None if empty)."""
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = folder / f"{name or uuid.uuid4().hex}.parquet"
        tmp = folder / f".{final.name}.tmp"
        rows = 0
        try:
            # Compression runs on a writer thread (pyarrow releases the GIL) while the next
            # batch is produced; at most two batches wait, so memory stays bounded.
            with (
                pq.ParquetWriter(
                    tmp,
                    EVENT_SCHEMA,
                    compression="zstd",
                    compression_level=_LEVELS,
                    use_dictionary=_FEW_VALUES,
                    write_statistics=_REPEATING,
                ) as writer,
                ThreadPoolExecutor(max_workers=1) as pool,
            ):
                pending: deque[Future[None]] = deque()
                for batch in batches:
                    if batch.num_rows:
                        if batch.schema != EVENT_SCHEMA:
                            batch = batch.cast(EVENT_SCHEMA)
                        pending.append(pool.submit(writer.write_batch, batch, ROW_GROUP))
                        rows += batch.num_rows
                        if len(pending) > 2:
                            pending.popleft().result()
                while pending:
                    pending.popleft().result()
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if not rows:
            tmp.unlink(missing_ok=True)
            return None
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return final

    def remove(self, path: Path) -> None:
        """Drop one store file (e.g. a partial ingest being replaced)."""
        if path.resolve().is_relative_to(self.root.resolve()):
            path.unlink(missing_ok=True)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with an `events` view over every file (empty if none)."""
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "SET enable_progress_bar = false"
        )  # it would write into our stdout  # day boundaries and casts are in UTC
        files = self.files()
        if files:
            paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
            # union_by_name fills a column missing from some files, not from all of them:
            # a store written before a column existed gets it as a typed NULL.
            present = {
                row[0]
                for row in con.execute(
                    f"DESCRIBE SELECT * FROM read_parquet([{paths}], union_by_name = true)"
                ).fetchall()
            }
            cols = ", ".join(
                name if name in present else f"CAST(NULL AS {_SQL_TYPES[str(typ)]}) AS {name}"
                for name, typ in zip(EVENT_SCHEMA.names, EVENT_SCHEMA.types, strict=True)
            )
            con.execute(
                f"CREATE VIEW events AS SELECT {cols} FROM read_parquet([{paths}],"
                " union_by_name = true)"
            )
        else:
            con.register("_empty_events", EVENT_SCHEMA.empty_table())
            con.execute("CREATE VIEW events AS SELECT * FROM _empty_events")
        return con

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        con = self.connect()
        try:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            con.close()
