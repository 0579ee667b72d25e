"""Schema of the exposure component, beside the core `exposures` and `exposure_items` tables:
each item's fingerprints under every key version held (so a credential fingerprinted under an
older key still matches), and each intake file with its outcome."""

from __future__ import annotations

from keyreaper.store.migrations import Migration

MIGRATIONS = [
    Migration(
        1,
        "exposure item fingerprints under every key version; intake files",
        (
            """CREATE TABLE exposure_item_fingerprints (
                exposure TEXT NOT NULL REFERENCES exposures (name) ON DELETE CASCADE,
                item_key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                key_version INTEGER NOT NULL,
                PRIMARY KEY (exposure, item_key, fingerprint)
            )""",
            "CREATE INDEX exposure_item_fps_value ON exposure_item_fingerprints (fingerprint)",
            """CREATE TABLE exposure_files (
                exposure TEXT NOT NULL REFERENCES exposures (name) ON DELETE CASCADE,
                path TEXT NOT NULL,
                file_type TEXT NOT NULL,
                status TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                items BIGINT NOT NULL DEFAULT 0,
                occurrences BIGINT NOT NULL DEFAULT 0,
                earliest TEXT,
                added_at TEXT NOT NULL,
                PRIMARY KEY (exposure, path, added_at)
            )""",
            "ALTER TABLE exposure_items ADD COLUMN occurrences BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE exposure_items ADD COLUMN source TEXT NOT NULL DEFAULT ''",
        ),
    ),
]
