"""Atlassian organisation audit log (admin.atlassian.com API: events with `attributes`),
as JSON lines or API pages (`{"data": [...]}`)."""

from __future__ import annotations

from typing import Any

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row


def _adjust(record: dict[str, Any], row: Row) -> None:
    action = str(row.get("event_type") or "")
    row["category"] = "authentication" if "login" in action else "admin"
    row["outcome"] = "failure" if "fail" in action else "success"
    if "api_token" in action or "api_key" in action:
        row["credential_kind"] = "api_token"


SOURCE = JsonSource(
    name="atlassian_org",
    description="Atlassian organisation audit log (admin API events)",
    detect_all=(b'"attributes"', b'"action"', b'"actor"'),
    container_key="data",
    fields={
        "event_type": ("attributes.action",),
        "actor_id": ("attributes.actor.id",),
        "actor_name": ("attributes.actor.email", "attributes.actor.name"),
        "src_ip": ("attributes.location.ip",),
        "target_id": ("attributes.context.0.id",),
        "target_type": ("attributes.context.0.type",),
        "target_name": ("attributes.context.0.attributes.name",),
        "credential_id": ("attributes.actor.apiKeyId", "attributes.context.0.attributes.tokenId"),
    },
    time=("attributes.time",),
    usage_event_types=("*",),
    adjust=_adjust,
)
