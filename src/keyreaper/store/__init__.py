"""State store: one small interface over SQLite and PostgreSQL, with versioned migrations."""

from keyreaper.store.db import Database, PostgresDatabase, Row, SQLiteDatabase, connect
from keyreaper.store.migrations import COMPONENTS, Migration, migrate, versions

__all__ = [
    "COMPONENTS",
    "Database",
    "Migration",
    "PostgresDatabase",
    "Row",
    "SQLiteDatabase",
    "connect",
    "migrate",
    "versions",
]
