"""Kubernetes audit log in its three common shapes: native audit.k8s.io events, GKE Cloud
Audit Log entries (protoPayload) and the AKS diagnostic envelope (properties.log holds the
native event as a JSON string).

Credential links: a service account (system:serviceaccount:NS:NAME) is the credential; a
token's credential id (user.extra authentication.kubernetes.io/credential-id) wins if logged.
"""

from __future__ import annotations

from typing import Any

import orjson

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row, get


def _unwrap(record: dict[str, Any]) -> dict[str, Any]:
    """AKS wraps the event (as text or object) in properties.log; its own `time` (when the
    API server emitted the entry) is the event time, as in Elastic's pipeline."""
    log = get(record, ("properties", "log"))
    if isinstance(log, str) and log.lstrip().startswith("{"):
        log = orjson.loads(log)
    if isinstance(log, dict):
        return {**log, "_envelope_time": record.get("time")}
    return record


def _adjust(record: dict[str, Any], row: Row) -> None:
    code = get(record, ("responseStatus", "code"))
    if code is None:
        code = get(record, ("protoPayload", "status", "code"))
        if code is not None:  # google.rpc codes: 0 is OK
            row["outcome"] = "success" if code == 0 else "failure"
    else:
        row["outcome"] = "success" if int(code) < 400 else "failure"
    extra = get(record, ("user", "extra"))
    cred = (
        extra.get("authentication.kubernetes.io/credential-id") if isinstance(extra, dict) else None
    )
    name = str(row.get("actor_name") or "")
    if cred:
        row["credential_id"] = cred[0] if isinstance(cred, list) else cred
        row["credential_kind"] = "api_token"
    elif name.startswith("system:serviceaccount:"):
        row["credential_id"], row["credential_kind"] = name, "service_account"
    row["category"] = "api_activity"


SOURCE = JsonSource(
    name="kubernetes",
    description="Kubernetes audit (native, GKE protoPayload, AKS envelope)",
    detect_any=(b'"auditID"', b'"kube-audit', b"k8s.io"),
    unwrap=_unwrap,
    fields={
        "event_type": ("verb", "protoPayload.methodName"),
        "actor_id": ("user.uid",),
        "actor_name": ("user.username", "protoPayload.authenticationInfo.principalEmail"),
        "src_ip": ("sourceIPs.0", "protoPayload.requestMetadata.callerIp"),
        "user_agent": ("userAgent", "protoPayload.requestMetadata.callerSuppliedUserAgent"),
        "target_id": ("objectRef.uid", "requestURI", "protoPayload.resourceName"),
        "target_type": ("objectRef.resource",),
        "target_name": ("objectRef.name",),
        "session_id": ("auditID",),
    },
    time=("_envelope_time", "requestReceivedTimestamp", "stageTimestamp", "timestamp"),
    usage_event_types=("*",),
    adjust=_adjust,
)
