"""Google Workspace login audit (Admin SDK Reports API activities, applicationName=login).

An activity may carry several events; the first names the row and the rest stay in `raw`.
Credential links: the account (actor e-mail / profile id)."""

from __future__ import annotations

from typing import Any

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row


def _event(record: dict[str, Any]) -> dict[str, Any]:
    events = record.get("events")
    if isinstance(events, list):
        return events[0] if events and isinstance(events[0], dict) else {}
    return events if isinstance(events, dict) else {}


def _adjust(record: dict[str, Any], row: Row) -> None:
    event = _event(record)
    name = str(event.get("name") or "")
    row["event_type"] = name or None
    row["category"] = "authentication"
    params = {p.get("name"): p for p in event.get("parameters") or [] if isinstance(p, dict)}
    if name == "login_failure":
        row["outcome"] = "failure"
    elif name in ("login_success", "logout"):
        row["outcome"] = "success"
    else:
        row["outcome"] = "unknown"
    affected = params.get("affected_email_address")
    if affected:
        row["target_name"] = affected.get("value")
        row["target_type"] = "user"
    login_type = params.get("login_type")
    if login_type:
        row["credential_kind"] = login_type.get("value")


SOURCE = JsonSource(
    name="google_workspace",
    description="Google Workspace login audit (Reports API)",
    detect_any=(b'"admin#reports#activity"', b'"applicationName"'),
    fields={
        "actor_id": ("actor.profileId",),
        "actor_name": ("actor.email",),
        "actor_type": ("actor.callerType",),
        "src_ip": ("ipAddress",),
        "session_id": ("id.uniqueQualifier",),
    },
    time=("id.time",),
    usage_event_types=("login_success",),
    adjust=_adjust,
)
