"""Test helper: turn raw third-party records (Panther rule tests, Elastic fixtures, replay logs)
into EVENT_SCHEMA rows with the record kept verbatim in `raw`, and write them to the store.

This stands in for the log parsers being written on another branch: it maps only the few
columns hunts read, the way the architecture names them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from keyreaper.events.schema import EVENT_SCHEMA
from keyreaper.events.store import EventStore


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(doc, list):
            doc = doc[0] if doc else None
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _time(value: Any) -> datetime:
    if isinstance(value, dict):
        value = value.get("epochSecond", 0)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    if not value:
        return datetime(2024, 1, 1, tzinfo=UTC)
    text = str(value).replace("Z", "+00:00").replace(" UTC", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:  # Panther redacts some times; a fixed time keeps the record usable
        return datetime(2024, 1, 1, tzinfo=UTC)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _s(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _outcome(value: Any) -> str:
    v = str(value or "").lower()
    if v in ("success", "allow", "allowed", "true", "200"):
        return "success"
    if v in ("failure", "deny", "denied", "false", "failed", "rejected"):
        return "failure"
    return v if v else "unknown"


def normalize(source: str, rec: dict[str, Any], origin: str) -> dict[str, Any]:
    """One EVENT_SCHEMA row."""
    g = lambda p: _get(rec, p)  # noqa: E731
    row: dict[str, Any] = {"source": source, "raw": json.dumps(rec), "origin": origin}
    if source == "okta":
        # Panther's tests lower-case some keys (eventtype, securitycontext); read both.
        rec = {k[0].lower() + k[1:] if k.islower() else k: v for k, v in rec.items()}
        fix = {
            "eventtype": "eventType",
            "securitycontext": "securityContext",
            "debugcontext": "debugContext",
            "authenticationcontext": "authenticationContext",
        }
        rec = {fix.get(k, k): v for k, v in rec.items()}
        g = lambda p: _get(rec, p)  # noqa: E731
        tgt = rec.get("target") or [{}]
        row |= {
            "time": _time(g("published")), "event_type": g("eventType") or "",
            "outcome": _outcome(g("outcome.result")), "actor_id": g("actor.id"),
            "actor_name": g("actor.alternateId"), "actor_type": g("actor.type"),
            "src_ip": g("client.ipAddress"), "user_agent": g("client.userAgent.rawUserAgent"),
            "src_asn": g("securityContext.asNumber"),
            "target_id": (tgt[0] or {}).get("id"),
            "target_name": (tgt[0] or {}).get("alternateId") or (tgt[0] or {}).get("displayName"),
            "target_type": (tgt[0] or {}).get("type"),
            "session_id": g("authenticationContext.externalSessionId"),
        }  # fmt: skip
    elif source == "cloudtrail":
        row |= {
            "time": _time(g("eventTime")), "event_type": g("eventName") or "",
            "outcome": "failure" if g("errorCode") else "success",
            "actor_id": g("userIdentity.principalId"),
            "actor_name": g("userIdentity.userName") or g("userIdentity.arn"),
            "actor_type": g("userIdentity.type"), "credential_id": g("userIdentity.accessKeyId"),
            "credential_kind": "access_key" if g("userIdentity.accessKeyId") else None,
            "src_ip": g("sourceIPAddress"), "user_agent": g("userAgent"),
            "target_name": g("requestParameters.userName") or g("requestParameters.roleArn"),
        }  # fmt: skip
    elif source == "github":
        row |= {
            "time": _time(g("@timestamp") or g("created_at")), "event_type": g("action") or "",
            "outcome": "success", "actor_name": g("actor"), "src_ip": g("actor_ip"),
            "user_agent": g("user_agent"), "credential_id": g("token_id") or g("hashed_token"),
            "target_name": g("repo") or g("user") or g("team") or g("name"),
        }  # fmt: skip
    elif source in ("bitbucket", "confluence", "jira"):
        action = g("auditType.action") or g("type.action") or g("summary") or ""
        objs = rec.get("affectedObjects") or [rec.get("affectedObject") or {}]
        row |= {
            "time": _time(g("timestamp") or g("creationDate")), "event_type": action,
            "category": g("auditType.category") or g("type.category") or g("category"),
            "outcome": _outcome(rec.get("outcome") or "success"),
            "actor_name": g("author.name") or g("author.displayName"),
            "src_ip": g("source") or g("remoteAddress"), "user_agent": rec.get("userAgent"),
            "target_name": ", ".join(str(o.get("name")) for o in objs if o.get("name")) or None,
        }  # fmt: skip
    elif source == "google_workspace":
        row |= {
            "time": _time(g("id.time")),
            "event_type": g("events.name") or "",
            "actor_name": g("actor.email"),
            "src_ip": g("ipAddress"),
            "outcome": "success",
        }
    else:  # sshd, web, cloudflare_access, postgres: replay records already use our names
        row |= {k: rec.get(k) for k in EVENT_SCHEMA.names if k in rec and k not in ("raw",)}
        row["time"] = _time(rec.get("time"))
        row.setdefault("event_type", rec.get("event_type", ""))
    for key in list(row):
        if key not in ("time", "src_asn", "raw", "origin", "source"):
            row[key] = _s(row[key])
    if row.get("src_asn") is not None:
        row["src_asn"] = int(row["src_asn"])
    row["event_type"] = row.get("event_type") or ""
    return row


def batch(rows: Iterable[dict[str, Any]]) -> pa.RecordBatch:
    rows = list(rows)
    return pa.RecordBatch.from_pylist(
        [{n: r.get(n) for n in EVENT_SCHEMA.names} for r in rows], schema=EVENT_SCHEMA
    )


def write(
    store: EventStore, source: str, records: Iterable[dict[str, Any]], name: str = "t"
) -> int:
    rows = [normalize(source, rec, f"{name}.jsonl:{n}") for n, rec in enumerate(records, start=1)]
    if rows:
        store.write(source, [batch(rows)])
    return len(rows)
