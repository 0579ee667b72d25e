"""Versioned schema: each component owns an ordered list of migrations, applied at open.

Opening a store that is already up to date costs one query: the store keeps a stamp of the
code's schema (a digest of every component module's source), and only when the stamp
differs are the component modules imported and their versions compared (importing them all
costs a third of a second at every start: some pull in pyarrow or cryptography).
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.machinery import PathFinder

from keyreaper.store.db import Database

# Components whose schema lives in the state store, in dependency order. A module named
# here exposes MIGRATIONS: a list of Migration, versions 1..n without gaps, written in the
# module itself (the stamp is a digest of its source).
COMPONENTS = [
    "keyreaper.store.core_schema",
    "keyreaper.usage.schema",
    "keyreaper.events.schema",
    "keyreaper.hunt.schema",
    "keyreaper.exposure.schema",
    "keyreaper.rotate.schema",
]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def _load(component: str) -> list[Migration]:
    migrations: list[Migration] = importlib.import_module(component).MIGRATIONS
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"{component}: migration versions must run 1..n, got {versions}")
    return migrations


def _source(module: str) -> bytes | None:
    """A module's source, found without importing it or its package (a package's
    __init__ may be heavy); None when it is not a plain file."""
    path: list[str] | None = None
    parts = module.split(".")
    for n in range(1, len(parts) + 1):
        name = ".".join(parts[:n])
        loaded = sys.modules.get(name)
        spec = getattr(loaded, "__spec__", None) or PathFinder.find_spec(name, path)
        if spec is None:
            return None
        path = spec.submodule_search_locations
    if spec is None or not spec.has_location or not spec.origin:
        return None
    try:
        with open(spec.origin, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def code_stamp() -> str | None:
    """Digest of the code's schema: the component names in order and each module's source.
    None when a source cannot be read (then every open checks every component)."""
    h = hashlib.sha256()
    for component in COMPONENTS:
        source = _source(component)
        if source is None:
            return None
        h.update(f"{component}\0{len(source)}\0".encode())
        h.update(source)
    return h.hexdigest()


_HAS_STAMP = {
    "sqlite": "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_stamp'",
    "postgresql": "SELECT 1 FROM pg_tables WHERE schemaname = current_schema()"
    " AND tablename = 'schema_stamp'",
}


def stored_stamp(db: Database) -> str | None:
    """The stamp of the code that last brought this store up to date, if any."""
    probe = _HAS_STAMP.get(db.dialect)
    if probe is None or not db.values(probe):
        return None
    rows = db.values("SELECT stamp FROM schema_stamp WHERE name = 'schema'")
    return str(rows[0][0]) if rows else None


def migrate(db: Database) -> list[str]:
    """Bring every component to its newest schema; returns what was applied."""
    stamp = code_stamp()
    if stamp is not None and stored_stamp(db) == stamp:
        return []
    applied = _migrate_components(db)
    if stamp is not None:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_stamp ("
            " name TEXT PRIMARY KEY, stamp TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO schema_stamp (name, stamp, applied_at) VALUES ('schema', ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET stamp = excluded.stamp,"
            " applied_at = excluded.applied_at",
            (stamp, datetime.now(UTC).isoformat()),
        )
    return applied


def _current(db: Database, component: str) -> int:
    rows = db.values("SELECT version FROM schema_versions WHERE component = ?", (component,))
    return int(rows[0][0]) if rows else 0


def _migrate_components(db: Database) -> list[str]:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions ("
        " component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied: list[str] = []
    for component in COMPONENTS:
        current = _current(db, component)
        for m in _load(component):
            if m.version <= current:
                continue
            with db.transaction():
                # Another process may be opening the same store: take the lock, then look
                # again (SQLite's IMMEDIATE transaction is the lock there).
                if db.dialect == "postgresql":
                    db.values("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK,))
                current = _current(db, component)
                if m.version <= current:
                    continue
                for statement in m.statements:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_versions (component, version, applied_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (component) DO UPDATE SET version = excluded.version,"
                    " applied_at = excluded.applied_at",
                    (component, m.version, datetime.now(UTC).isoformat()),
                )
            applied.append(f"{component} v{m.version}: {m.description}")
    return applied


# pg_advisory_xact_lock key for schema changes: "kr-schema" in ASCII, a fixed number.
_PG_LOCK = 0x6B722D736368656D


def versions(db: Database) -> dict[str, int]:
    return {r["component"]: int(r["version"]) for r in db.query("SELECT * FROM schema_versions")}
