"""The state store behind one small interface: SQLite by default, PostgreSQL for teams.

SQL is written once with `?` placeholders in the subset both engines share
(TEXT/INTEGER/BIGINT/DOUBLE PRECISION, INSERT ... ON CONFLICT ... DO UPDATE).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from keyreaper.errors import WorkspaceError
from keyreaper.extras import require

Row = dict[str, Any]


class Database(Protocol):
    """What every component may use of the state store."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: for bulk reads where a dict per row costs real time."""
        ...

    def transaction(self) -> Any: ...

    def close(self) -> None: ...


class SQLiteDatabase:
    """SQLite in WAL mode with synchronous=FULL, asserted at open; explicit transactions."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(
            path, isolation_level=None, timeout=30, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        # The default 2 MB page cache thrashes on bulk imports (random fingerprint index).
        self._conn.execute("PRAGMA cache_size=-65536")
        mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        if mode != "wal" or sync != 2:
            raise WorkspaceError(
                f"{path}: SQLite refused WAL/synchronous=FULL (got {mode}/{sync}); "
                "the state store cannot guarantee durability on this filesystem"
            )
        self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [dict(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.cursor()
        cur.row_factory = None
        rows: list[tuple[Any, ...]] = cur.execute(sql, tuple(params)).fetchall()
        return rows

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One IMMEDIATE transaction; nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._depth = 0

    def close(self) -> None:
        self._conn.close()


_QMARK = re.compile(r"\?")


def _to_pyformat(sql: str) -> str:
    # Our SQL never has '?' or '%' inside literals except LIKE patterns passed as params.
    return _QMARK.sub("%s", sql.replace("%", "%%"))


class PostgresDatabase:
    """PostgreSQL through psycopg 3, autocommit outside explicit transactions."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        psycopg = require("psycopg", "postgres")
        rows = require("psycopg.rows", "postgres")
        try:
            self._conn = psycopg.connect(url, autocommit=True, row_factory=rows.dict_row)
        except psycopg.Error as exc:
            raise WorkspaceError(f"cannot connect to the PostgreSQL state store: {exc}") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._conn.execute(_to_pyformat(sql), tuple(params))
        return int(cur.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_to_pyformat(sql), [tuple(r) for r in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self._conn.execute(_to_pyformat(sql), tuple(params))
        return list(cur.fetchall())

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = require("psycopg.rows", "postgres")
        with self._conn.cursor(row_factory=rows.tuple_row) as cur:
            cur.execute(_to_pyformat(sql), tuple(params))
            return list(cur.fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    def close(self) -> None:
        self._conn.close()


def connect(url: str, base: Path) -> Database:
    """Open the store named by a URL: sqlite:///relative/or/absolute.db or postgresql://..."""
    if url.startswith("sqlite:///"):
        raw = url.removeprefix("sqlite:///")
        path = Path(raw) if raw.startswith("/") else base / raw
        return SQLiteDatabase(path)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    raise WorkspaceError(f"unsupported state store URL {url!r} (sqlite:/// or postgresql://)")
