"""Versioned schema: each component owns an ordered list of migrations, applied at open."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime

from keyreaper.store.db import Database

# Components whose schema lives in the state store, in dependency order. A module named
# here exposes MIGRATIONS: a list of Migration, versions 1..n without gaps.
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


def migrate(db: Database) -> list[str]:
    """Bring every component to its newest schema; returns what was applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions ("
        " component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied: list[str] = []
    for component in COMPONENTS:
        rows = db.query("SELECT version FROM schema_versions WHERE component = ?", (component,))
        current = int(rows[0]["version"]) if rows else 0
        for m in _load(component):
            if m.version <= current:
                continue
            with db.transaction():
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


def versions(db: Database) -> dict[str, int]:
    return {r["component"]: int(r["version"]) for r in db.query("SELECT * FROM schema_versions")}
