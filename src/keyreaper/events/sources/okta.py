"""Okta System Log: NDJSON exports and the API's JSON array pages.

Credential links: an API token id (transaction.detail.requestApiTokenId), an OAuth client id
(a client actor, or client.id), else the Okta session (authenticationContext.externalSessionId).
"""

from __future__ import annotations

from typing import Any

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row, first, text

_CLIENT_ACTORS = {"PublicClientApp", "Client", "AppInstance"}
_CLIENTS_SQL = "('" + "', '".join(sorted(_CLIENT_ACTORS)) + "')"
_AUTH_PREFIXES = ("user.session.", "user.authentication.", "policy.evaluate_sign_on", "app.oauth2.")


def _adjust(record: dict[str, Any], row: Row) -> None:
    event_type = str(row.get("event_type") or "")
    row["category"] = "authentication" if event_type.startswith(_AUTH_PREFIXES) else "okta"
    # Read as the fast path's SQL reads its helper columns: first() text, empties absent.
    token = text(first(record, (("transaction", "detail", "requestApiTokenId"),)))
    client = text(first(record, (("client", "id"),)))
    if token:
        row["credential_id"], row["credential_kind"] = token, "api_token"
    elif row.get("actor_type") in _CLIENT_ACTORS:
        row["credential_id"], row["credential_kind"] = row.get("actor_id"), "oauth_client"
    elif client:
        row["credential_id"], row["credential_kind"] = client, "oauth_client"
    elif row.get("session_id"):
        row["credential_id"], row["credential_kind"] = row["session_id"], "session"


SOURCE = JsonSource(
    name="okta",
    description="Okta System Log (NDJSON or API JSON arrays)",
    detect_all=(b'"eventType"', b'"published"'),
    fields={
        "event_type": ("eventType",),
        "actor_id": ("actor.id",),
        "actor_name": ("actor.alternateId", "actor.displayName"),
        "actor_type": ("actor.type",),
        "src_ip": ("client.ipAddress", "request.ipChain.0.ip"),
        "src_asn": ("securityContext.asNumber",),
        "user_agent": ("client.userAgent.rawUserAgent",),
        "target_id": ("target.0.id",),
        "target_type": ("target.0.type",),
        "target_name": ("target.0.alternateId", "target.0.displayName"),
        "session_id": ("authenticationContext.externalSessionId",),
    },
    time=("published",),
    outcome_path=("outcome.result",),
    outcome_values={
        "success": "success",
        "allow": "success",
        "failure": "failure",
        "deny": "failure",
        "denied": "failure",
        "challenge": "unknown",
    },
    usage_event_types=("*",),
    adjust=_adjust,
    helpers={"_token": ("transaction.detail.requestApiTokenId",), "_client": ("client.id",)},
    sql={
        "category": "CASE WHEN starts_with(event_type, 'user.session.')"
        " OR starts_with(event_type, 'user.authentication.')"
        " OR starts_with(event_type, 'policy.evaluate_sign_on')"
        " OR starts_with(event_type, 'app.oauth2.') THEN 'authentication' ELSE 'okta' END",
        "credential_id": f"CASE WHEN _token IS NOT NULL THEN _token WHEN actor_type IN {_CLIENTS_SQL}"
        " THEN actor_id WHEN _client IS NOT NULL THEN _client ELSE session_id END",
        "credential_kind": f"CASE WHEN _token IS NOT NULL THEN 'api_token' WHEN actor_type IN {_CLIENTS_SQL}"
        " OR _client IS NOT NULL THEN 'oauth_client'"
        " WHEN session_id IS NOT NULL THEN 'session' END",
    },
)
