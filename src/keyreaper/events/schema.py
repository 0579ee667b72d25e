"""The normalized event schema every log source produces and every query reads, and the
state-store table that remembers which files were ingested.

Flat columns with OCSF-like names; `raw` keeps the original record so hunts and Sigma rules
can reach fields no schema foresaw; `origin` says where it came from (file:line, or
file#index for records inside a JSON array).
"""

from __future__ import annotations

import pyarrow as pa

from keyreaper.store.migrations import Migration

EVENT_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # okta, cloudtrail, sshd, ...
        pa.field("event_type", pa.string(), nullable=False),  # the source's native type
        pa.field("category", pa.string()),  # authentication, api_activity, account_change, ...
        pa.field("outcome", pa.string()),  # success, failure, unknown
        pa.field("actor_id", pa.string()),
        pa.field("actor_name", pa.string()),
        pa.field("actor_type", pa.string()),
        pa.field("credential_id", pa.string()),  # access key id, token id, key fingerprint...
        pa.field("credential_kind", pa.string()),
        pa.field("src_ip", pa.string()),
        pa.field("src_asn", pa.int64()),
        pa.field("user_agent", pa.string()),
        pa.field("target_id", pa.string()),
        pa.field("target_type", pa.string()),
        pa.field("target_name", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("raw", pa.string(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        # Added by the log-source work: a credential this event issued (the ASIA key an
        # AssumeRole returned, a new access key id), so uses of it link back to its issuer.
        pa.field("issued_credential_id", pa.string()),
    ]
)

COLUMNS = tuple(EVENT_SCHEMA.names)

MIGRATIONS = [
    Migration(
        1,
        "ingested log files (content hash) so ingesting the same file twice adds nothing",
        (
            """CREATE TABLE ingested_files (
                sha256 TEXT PRIMARY KEY,
                path TEXT NOT NULL,
                size BIGINT NOT NULL,
                mtime_ns BIGINT NOT NULL,
                source TEXT NOT NULL,
                events BIGINT NOT NULL,
                rejected BIGINT NOT NULL,
                status TEXT NOT NULL,
                store_file TEXT NOT NULL DEFAULT '',
                ingested_at TEXT NOT NULL
            )""",
            "CREATE INDEX ingested_files_path ON ingested_files (path, size, mtime_ns)",
        ),
    ),
]
