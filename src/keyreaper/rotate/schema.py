"""Schema of rotation campaigns: the plan, each item's durable position, step timings,
exceptions, and the encrypted holding place for new secrets not yet delivered.

Every action is also a line in the core audit_log (the append-only journal), written in the
same transaction as the item's transition."""

from __future__ import annotations

from keyreaper.store.migrations import Migration

MIGRATIONS = [
    Migration(
        1,
        "campaigns, items, step times, exceptions, sealed new secrets",
        (
            """CREATE TABLE campaigns (
                name TEXT PRIMARY KEY,
                selector TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE campaign_items (
                campaign TEXT NOT NULL REFERENCES campaigns (name) ON DELETE CASCADE,
                credential_id TEXT NOT NULL,
                provider TEXT NOT NULL DEFAULT '',
                kind TEXT NOT NULL DEFAULT '',
                action TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                usage TEXT NOT NULL DEFAULT '',
                exposures TEXT NOT NULL DEFAULT '[]',
                step TEXT NOT NULL DEFAULT 'preflight',
                state TEXT NOT NULL DEFAULT 'pending',
                severity TEXT NOT NULL DEFAULT '',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_at TEXT NOT NULL DEFAULT '',
                last_error TEXT NOT NULL DEFAULT '',
                old_fingerprint TEXT NOT NULL DEFAULT '',
                new_identifier TEXT NOT NULL DEFAULT '',
                new_fingerprint TEXT NOT NULL DEFAULT '',
                receipt TEXT NOT NULL DEFAULT '',
                create_begun INTEGER NOT NULL DEFAULT 0,
                dead_probes INTEGER NOT NULL DEFAULT 0,
                sessions_revoked INTEGER NOT NULL DEFAULT 0,
                revoked_at TEXT NOT NULL DEFAULT '',
                watch_since TEXT NOT NULL DEFAULT '',
                started_at TEXT NOT NULL DEFAULT '',
                step_started_at TEXT NOT NULL DEFAULT '',
                finished_at TEXT NOT NULL DEFAULT '',
                updated_at TEXT NOT NULL,
                PRIMARY KEY (campaign, credential_id)
            )""",
            "CREATE INDEX campaign_items_due ON campaign_items (campaign, provider, state, next_at)",
            """CREATE TABLE campaign_step_times (
                campaign TEXT NOT NULL,
                credential_id TEXT NOT NULL,
                step TEXT NOT NULL,
                seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
                runs INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (campaign, credential_id, step)
            )""",
            """CREATE TABLE campaign_exceptions (
                campaign TEXT NOT NULL,
                credential_id TEXT NOT NULL,
                reason TEXT NOT NULL,
                approver TEXT NOT NULL,
                expires TEXT NOT NULL,
                attestation TEXT NOT NULL DEFAULT '',
                created_by TEXT NOT NULL,
                created_at TEXT NOT NULL,
                ended_at TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (campaign, credential_id, created_at)
            )""",
            """CREATE TABLE campaign_sealed (
                campaign TEXT NOT NULL,
                credential_id TEXT NOT NULL,
                step TEXT NOT NULL,
                identifier TEXT NOT NULL,
                tag TEXT NOT NULL,
                key_version INTEGER NOT NULL,
                nonce TEXT NOT NULL,
                ciphertext TEXT NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (campaign, credential_id)
            )""",
        ),
    ),
]
