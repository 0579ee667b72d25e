"""Synthetic log records written by the project (never copies of third-party records)."""

from __future__ import annotations

import json
from datetime import datetime


def okta(
    when: datetime,
    ip: str = "198.51.100.7",
    token: str | None = None,
    actor: str = "00uSVC",
    event_type: str = "user.session.start",
    result: str = "SUCCESS",
    asn: int | None = 64500,
    **extra: object,
) -> dict[str, object]:
    rec: dict[str, object] = {
        "uuid": f"u-{when.timestamp()}-{actor}",
        "published": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventType": event_type,
        "actor": {"id": actor, "type": "User", "alternateId": f"{actor}@example.test"},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": "synthetic/1.0"}},
        "outcome": {"result": result},
        "authenticationContext": {"externalSessionId": f"sess-{actor}"},
        "securityContext": {"asNumber": asn} if asn else {},
        "transaction": {"detail": {"requestApiTokenId": token}} if token else {},
    }
    rec.update(extra)
    return rec


def cloudtrail(
    when: datetime,
    key: str,
    ip: str = "203.0.113.9",
    name: str = "GetCallerIdentity",
    error: str | None = None,
    issued: str | None = None,
) -> dict[str, object]:
    rec: dict[str, object] = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA{key[-8:]}",
            "userName": f"user-{key[-4:]}",
            "accessKeyId": key,
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com",
        "eventName": name,
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.0 synthetic",
    }
    if error:
        rec["errorCode"] = error
    if issued:
        rec["responseElements"] = {"credentials": {"accessKeyId": issued}}
        rec["requestParameters"] = {"roleArn": "arn:aws:iam::123456789012:role/synthetic"}
    return rec


def sshd(when: datetime, user: str, fp: str, ip: str = "192.0.2.10", pid: int = 4242) -> str:
    stamp = f"{when:%b} {when.day:>2} {when:%H:%M:%S}"
    return (
        f"{stamp} bastion sshd[{pid}]: Accepted publickey for {user} from {ip} "
        f"port 50022 ssh2: ED25519 {fp}"
    )


def ndjson(records: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)
