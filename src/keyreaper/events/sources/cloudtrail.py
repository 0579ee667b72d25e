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
from keyreaper.events.records import Row, get

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
    failed = record.get("errorCode") or get(record, ("responseElements", "ConsoleLogin")) == (
        "Failure"
    )
    row["outcome"] = "failure" if failed and record.get("errorCode") != "200" else "success"
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
)
