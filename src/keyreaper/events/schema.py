"""The normalized event schema every log source produces and every query reads.

Flat columns with OCSF-like names; `raw` keeps the original record so hunts and Sigma rules
can reach fields no schema foresaw; `origin` says where it came from (file:line or file@offset).
"""

from __future__ import annotations

import pyarrow as pa

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
    ]
)

COLUMNS = tuple(EVENT_SCHEMA.names)
