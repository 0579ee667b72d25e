"""Atlassian product audit logs — Bitbucket, Confluence and Jira — in all their shapes:
Data Center audit files (`auditType`, `timestamp.epochSecond`), the Data Center audit REST
API (`type`, ISO `timestamp`), Jira Cloud (`summary`, `objectItem`, `created`) and
Confluence Cloud (`author`, `remoteAddress`, `creationDate`).

Credential links: service accounts match on the author (actor id / name); a personal access
token named in the record (affected object of type token) becomes the target.
"""

from __future__ import annotations

from typing import Any

from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.records import Row

_AUTH_WORDS = ("login", "logged in", "authentication", "log in")


def _adjust(record: dict[str, Any], row: Row) -> None:
    ip = row.get("src_ip")
    if isinstance(ip, str) and "," in ip:  # client first, then proxies
        row["src_ip"] = ip.split(",")[0].strip()
    action = str(row.get("event_type") or "").lower()
    if any(w in action for w in _AUTH_WORDS):
        row["category"] = "authentication"
    row["outcome"] = "failure" if "fail" in action else "success"


_FIELDS = {
    "event_type": ("auditType.action", "type.action", "summary"),
    "category": ("auditType.category", "type.category", "category"),
    "actor_id": ("author.id", "author.accountId", "authorAccountId", "authorKey"),
    "actor_name": ("author.name", "author.displayName", "author.username"),
    "actor_type": ("author.type",),
    "src_ip": ("source", "remoteAddress"),
    "target_id": ("affectedObjects.0.id", "objectItem.id"),
    "target_type": (
        "affectedObjects.0.type",
        "objectItem.typeName",
        "affectedObject.objectType",
    ),
    "target_name": ("affectedObjects.0.name", "objectItem.name", "affectedObject.name"),
    "user_agent": ("method",),
}
_TIME = ("timestamp", "created", "creationDate")


def _source(name: str, hints: tuple[bytes, ...], description: str) -> JsonSource:
    return JsonSource(
        name=name,
        description=description,
        detect_any=hints,
        fields=_FIELDS,
        time=_TIME,
        usage_event_types=("*",),
        adjust=_adjust,
    )


BITBUCKET = _source(
    "bitbucket", (b"bitbucket.", b"bitbucket"), "Atlassian Bitbucket audit (DC file/API)"
)
JIRA = _source(
    "jira",
    (b"jira.", b'"objectItem"', b"/jira"),
    "Atlassian Jira audit (DC file/API, Cloud)",
)
CONFLUENCE = _source(
    "confluence",
    (b'"auditType"', b'"affectedObjects"', b'"creationDate"', b'"remoteAddress"'),
    "Atlassian Confluence audit (DC file/API, Cloud)",
)
