"""AWS CloudTrail: `{"Records": [...]}` files (often gzip), NDJSON exports such as
Logstash's (with `@timestamp`), and single records.

Credential links: userIdentity.accessKeyId (AKIA long-term keys, ASIA session keys). An
AssumeRole / GetSessionToken / CreateAccessKey response names the key it issued in
`issued_credential_id`, so uses of an ASIA key lead back to the call that issued it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row, first, get, text

_AUTH_EVENTS = {"ConsoleLogin", "UserAuthentication", "CredentialVerification", "GetSessionToken"}


def _ip(value: Any) -> str | None:
    """sourceIPAddress may be a service name or a comma list; keep the first real address."""
    if not isinstance(value, str):
        return None
    candidate = value.split(",")[0].strip()
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return candidate


def _adjust(record: dict[str, Any], row: Row) -> None:
    row["src_ip"] = _ip(record.get("sourceIPAddress"))
    name = row.get("event_type")
    row["category"] = "authentication" if name in _AUTH_EVENTS else "api_activity"
    # Read as the fast path's SQL reads its helper columns: first() text, empties absent.
    error = text(first(record, (("errorCode",),)))
    failed = error or text(first(record, (("responseElements", "ConsoleLogin"),))) == "Failure"
    row["outcome"] = "failure" if failed and error != "200" else "success"
    key = row.get("credential_id")
    if key:
        row["credential_kind"] = "access_key"
    if not row.get("actor_name"):
        row["actor_name"] = get(record, ("additionalEventData", "UserName"))


SOURCE = JsonSource(
    name="cloudtrail",
    description="AWS CloudTrail (Records files, gzip, NDJSON exports)",
    detect_all=(b'"eventSource"', b'"eventName"'),
    container_key="Records",
    fields={
        "event_type": ("eventName",),
        "actor_id": ("userIdentity.principalId", "userIdentity.onBehalfOf.userId"),
        "actor_name": (
            "userIdentity.userName",
            "userIdentity.sessionContext.sessionIssuer.userName",
        ),
        "actor_type": ("userIdentity.type",),
        "credential_id": ("userIdentity.accessKeyId",),
        "user_agent": ("userAgent",),
        "target_id": (
            "requestParameters.roleArn",
            "requestParameters.userName",
            "requestParameters.bucketName",
            "requestParameters.secretId",
            "requestParameters.accessKeyId",
        ),
        "target_type": ("eventSource",),
        "target_name": ("requestParameters.userName", "requestParameters.roleSessionName"),
        "issued_credential_id": (
            "responseElements.credentials.accessKeyId",
            "responseElements.accessKey.accessKeyId",
        ),
    },
    time=("eventTime", "@timestamp"),
    usage_event_types=("*",),
    adjust=_adjust,
    helpers={
        "_ip": ("sourceIPAddress",),
        "_error": ("errorCode",),
        "_console": ("responseElements.ConsoleLogin",),
        "_aed_user": ("additionalEventData.UserName",),
    },
    sql={
        "src_ip": "CASE WHEN regexp_full_match(trim(split_part(_ip, ',', 1)),"
        " '(\\d{1,3}\\.){3}\\d{1,3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*')"
        " THEN trim(split_part(_ip, ',', 1)) END",
        "category": "CASE WHEN event_type IN ("
        + ", ".join(f"'{e}'" for e in sorted(_AUTH_EVENTS))
        + ") THEN 'authentication' ELSE 'api_activity' END",
        "outcome": "CASE WHEN coalesce(_error, '') = '200' THEN 'success'"
        " WHEN _error IS NOT NULL OR _console = 'Failure' THEN 'failure' ELSE 'success' END",
        "credential_kind": "CASE WHEN credential_id IS NOT NULL THEN 'access_key' END",
        "actor_name": "coalesce(actor_name, _aed_user)",
    },
)
