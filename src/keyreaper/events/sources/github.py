"""GitHub organisation and enterprise audit logs (JSON lines from the API or the export).

Credential links: token_id (personal access tokens, OAuth and app tokens), else
hashed_token, else oauth_application_id (an OAuth app's client).
"""

from __future__ import annotations

from typing import Any

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row

_AUTH = (
    "user.login",
    "user.logout",
    "user.failed_login",
    "oauth_authorization.",
    "personal_access_token.",
)


def _adjust(record: dict[str, Any], row: Row) -> None:
    action = str(row.get("event_type") or "")
    row["category"] = "authentication" if action.startswith(_AUTH) else "audit"
    row["outcome"] = "failure" if "failed" in action or "rejected" in action else "success"
    for key, kind in (("token_id", "api_token"), ("hashed_token", "api_token")):
        if record.get(key):
            row["credential_id"], row["credential_kind"] = record[key], kind
            return
    if record.get("oauth_application_id"):
        row["credential_id"] = record["oauth_application_id"]
        row["credential_kind"] = "oauth_client"


SOURCE = JsonSource(
    name="github",
    description="GitHub organisation / enterprise audit log (JSON)",
    detect_all=(b'"action"', b'"actor'),
    detect_any=(b'"created_at"', b'"@timestamp"'),
    fields={
        "event_type": ("action",),
        "actor_id": ("actor_id",),
        "actor_name": ("actor",),
        "actor_type": ("actor_is_bot",),
        "src_ip": ("actor_ip", "actor_location.ip"),
        "user_agent": ("user_agent",),
        "target_id": ("repo_id", "user_id", "org_id"),
        "target_type": ("operation_type",),
        "target_name": ("repo", "repository", "user", "team", "org"),
    },
    time=("created_at", "@timestamp"),
    usage_event_types=("*",),
    adjust=_adjust,
)
