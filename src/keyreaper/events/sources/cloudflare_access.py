"""Cloudflare Access requests (Logpush `access_requests` dataset, or the API).

Credential links: a service token's client id (ServiceTokenID / ClientID when present), else
the user's UID. CreatedAt comes as RFC 3339, epoch seconds or epoch nanoseconds."""

from __future__ import annotations

from typing import Any

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row


def _adjust(record: dict[str, Any], row: Row) -> None:
    allowed = record.get("Allowed")
    row["outcome"] = "success" if allowed is True else "failure" if allowed is False else "unknown"
    if row.get("credential_id"):
        row["credential_kind"] = "service_token"


SOURCE = JsonSource(
    name="cloudflare_access",
    description="Cloudflare Access requests (Logpush access_requests)",
    detect_all=(b'"RayID"', b'"AppDomain"'),
    constants={"category": "authentication"},
    fields={
        "event_type": ("Action",),
        "actor_id": ("UserUID",),
        "actor_name": ("Email",),
        "src_ip": ("IPAddress",),
        "target_id": ("AppUUID",),
        "target_name": ("AppDomain",),
        "credential_id": ("ServiceTokenID", "ServiceTokenClientID", "ClientID"),
        "session_id": ("RayID",),
    },
    time=("CreatedAt", "Datetime"),
    usage_event_types=("*",),
    adjust=_adjust,
)
