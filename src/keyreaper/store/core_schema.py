"""Schema of the core component: credentials, their identifiers and fingerprints, exposures,
and the append-only audit journal."""

from __future__ import annotations

from keyreaper.store.migrations import Migration

MIGRATIONS = [
    Migration(
        1,
        "credentials, identifiers, fingerprints, exposures, audit journal",
        (
            """CREATE TABLE credentials (
                id TEXT PRIMARY KEY,
                provider TEXT NOT NULL,
                kind TEXT NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                owner TEXT NOT NULL DEFAULT '',
                consumers TEXT NOT NULL DEFAULT '[]',
                privilege TEXT NOT NULL DEFAULT '',
                created TEXT NOT NULL DEFAULT '',
                last_rotated TEXT NOT NULL DEFAULT '',
                expires TEXT NOT NULL DEFAULT '',
                tags TEXT NOT NULL DEFAULT '[]',
                claimed_status TEXT NOT NULL DEFAULT '',
                claimed_by TEXT NOT NULL DEFAULT '',
                claimed_at TEXT NOT NULL DEFAULT '',
                extra TEXT NOT NULL DEFAULT '{}',
                source TEXT NOT NULL DEFAULT '',
                first_seen TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX credentials_provider_kind ON credentials (provider, kind)",
            """CREATE TABLE credential_identifiers (
                credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
                identifier TEXT NOT NULL,
                PRIMARY KEY (credential_id, identifier)
            )""",
            "CREATE INDEX credential_identifiers_value ON credential_identifiers (identifier)",
            """CREATE TABLE credential_fingerprints (
                credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
                fingerprint TEXT NOT NULL,
                key_version INTEGER NOT NULL,
                hint TEXT NOT NULL DEFAULT '',
                added_at TEXT NOT NULL,
                PRIMARY KEY (credential_id, fingerprint)
            )""",
            "CREATE INDEX credential_fingerprints_value ON credential_fingerprints (fingerprint)",
            """CREATE TABLE exposures (
                name TEXT PRIMARY KEY,
                t0 TEXT,
                t0_source TEXT NOT NULL DEFAULT '',
                description TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE exposure_items (
                exposure TEXT NOT NULL REFERENCES exposures (name) ON DELETE CASCADE,
                item_key TEXT NOT NULL,
                kind TEXT NOT NULL,
                fingerprint TEXT,
                key_version INTEGER,
                hint TEXT NOT NULL DEFAULT '',
                identifier TEXT NOT NULL DEFAULT '',
                credential_id TEXT,
                evidence TEXT NOT NULL DEFAULT '',
                seen_at TEXT,
                PRIMARY KEY (exposure, item_key)
            )""",
            "CREATE INDEX exposure_items_fp ON exposure_items (fingerprint)",
            "CREATE INDEX exposure_items_ident ON exposure_items (identifier)",
            """CREATE TABLE audit_log (
                seq BIGINT PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                subject TEXT NOT NULL DEFAULT '',
                fingerprint TEXT NOT NULL DEFAULT '',
                outcome TEXT NOT NULL DEFAULT '',
                detail TEXT NOT NULL DEFAULT ''
            )""",
        ),
    ),
]
