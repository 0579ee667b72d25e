"""Schema of the hunt component: indicators with provenance, and every hit with its evidence."""

from __future__ import annotations

from keyreaper.store.migrations import Migration

MIGRATIONS = [
    Migration(
        1,
        "indicators and hunt hits",
        (
            """CREATE TABLE indicators (
                type TEXT NOT NULL,
                value TEXT NOT NULL,
                source TEXT NOT NULL DEFAULT '',
                description TEXT NOT NULL DEFAULT '',
                valid_from TEXT,
                valid_until TEXT,
                imported_at TEXT NOT NULL,
                PRIMARY KEY (type, value)
            )""",
            # One row per (hunt, event): re-running a hunt updates, never duplicates.
            """CREATE TABLE hunt_hits (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                hunt TEXT NOT NULL,
                title TEXT NOT NULL DEFAULT '',
                indicator_type TEXT NOT NULL DEFAULT '',
                indicator TEXT NOT NULL DEFAULT '',
                matched_field TEXT NOT NULL DEFAULT '',
                time TEXT NOT NULL,
                source TEXT NOT NULL DEFAULT '',
                event_type TEXT NOT NULL DEFAULT '',
                outcome TEXT NOT NULL DEFAULT '',
                actor TEXT NOT NULL DEFAULT '',
                credential TEXT NOT NULL DEFAULT '',
                inventory_id TEXT NOT NULL DEFAULT '',
                src_ip TEXT NOT NULL DEFAULT '',
                target TEXT NOT NULL DEFAULT '',
                origin TEXT NOT NULL DEFAULT '',
                detail TEXT NOT NULL DEFAULT '',
                found_at TEXT NOT NULL
            )""",
            "CREATE INDEX hunt_hits_time ON hunt_hits (time)",
            "CREATE INDEX hunt_hits_indicator ON hunt_hits (indicator)",
        ),
    ),
]
