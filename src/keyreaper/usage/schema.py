"""Schema of stored usage attestations, so reports and campaigns can cite them."""

from __future__ import annotations

from keyreaper.store.migrations import Migration

MIGRATIONS = [
    Migration(
        1,
        "usage attestations",
        (
            """CREATE TABLE attestations (
                id TEXT PRIMARY KEY,
                credential_id TEXT NOT NULL,
                verdict TEXT NOT NULL,
                window_start TEXT NOT NULL,
                window_end TEXT NOT NULL,
                computed_at TEXT NOT NULL,
                first_use TEXT,
                last_use TEXT,
                use_count BIGINT NOT NULL DEFAULT 0,
                distinct_ips TEXT NOT NULL DEFAULT '[]',
                distinct_asns TEXT NOT NULL DEFAULT '[]',
                distinct_user_agents TEXT NOT NULL DEFAULT '[]',
                last_evidence TEXT NOT NULL DEFAULT '',
                sources_searched TEXT NOT NULL DEFAULT '[]',
                gaps TEXT NOT NULL DEFAULT '[]',
                flags TEXT NOT NULL DEFAULT '[]'
            )""",
            "CREATE INDEX attestations_cred ON attestations (credential_id, computed_at)",
        ),
    ),
    Migration(
        2,
        "attestation severity, for reports that list critical flags first",
        (
            "ALTER TABLE attestations ADD COLUMN severity TEXT NOT NULL DEFAULT ''",
            "CREATE INDEX attestations_severity ON attestations (severity)",
        ),
    ),
]
