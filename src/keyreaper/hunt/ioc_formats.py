"""Indicator exchange formats: STIX 2.1 bundles (via stix2) and MISP event JSON in, STIX 2.1
bundles and a defanged markdown table (the shape of Cloudflare's advisory) out."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from keyreaper.domain.model import Indicator
from keyreaper.extras import require
from keyreaper.hunt.indicators import classify, defang

# STIX pattern object paths -> our type hint (the value still goes through classify()).
_STIX_PATHS = {
    "ipv4-addr:value": "ipv4",
    "ipv6-addr:value": "ipv6",
    "domain-name:value": "domain",
    "url:value": "url",
    "email-addr:value": "email",
    "file:name": "file_name",
    "file:hashes.'sha-256'": "sha256",
    "file:hashes.sha256": "sha256",
    "file:hashes.'sha-1'": "sha1",
    "file:hashes.sha1": "sha1",
    "file:hashes.md5": "md5",
    "autonomous-system:number": "asn",
    "user-account:user_id": "credential_id",
    "user-account:account_login": "credential_id",
    "network-traffic:extensions.'http-request-ext'.request_header.'user-agent'": "user_agent",
}
_COMPARISON = re.compile(
    r"([a-z0-9-]+:[\w.'\-]+)\s*(?:=|LIKE|ISSUBSET)\s*(?:'((?:[^'\\]|\\.)*)'|(\d+))", re.I
)
_SCO_TYPES = {
    "ipv4-addr": "ipv4",
    "ipv6-addr": "ipv6",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email",
}


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_stix(text: str, source: str) -> Iterator[Indicator]:
    """Indicators (from their patterns) and bare observables (SCOs) of a STIX 2.1 bundle."""
    stix2 = require("stix2", "hunt")
    try:
        bundle = stix2.parse(text, allow_custom=True)
    except stix2.exceptions.STIXError as exc:  # the library's own complaint, as the message
        raise ValueError(str(exc)) from exc
    objects = list(getattr(bundle, "objects", None) or [bundle])
    names = {o.id: getattr(o, "name", "") for o in objects if o.type == "identity"}
    for obj in objects:
        if obj.type == "indicator":
            src = names.get(getattr(obj, "created_by_ref", None) or "", "") or source
            desc = " ".join(
                p for p in (getattr(obj, "name", ""), getattr(obj, "description", "")) if p
            )
            for path, quoted, number in _COMPARISON.findall(obj.pattern):
                raw = quoted or number
                hint = _STIX_PATHS.get(path.lower(), "")
                found = classify(raw.replace("\\'", "'"), hint)
                if found:
                    yield Indicator(
                        found[0], found[1], src, desc, _when(obj.valid_from),
                        _when(getattr(obj, "valid_until", None)),
                    )  # fmt: skip
        elif obj.type in _SCO_TYPES:
            found = classify(str(obj.value), _SCO_TYPES[obj.type])
            if found:
                yield Indicator(found[0], found[1], source, "observed in bundle")
        elif obj.type == "autonomous-system":
            yield Indicator("asn", str(obj.number), source, getattr(obj, "name", ""))


# MISP attribute types -> hint; composite "a|b" types are split into both parts.
_MISP = {
    "ip-src": "ipv4", "ip-dst": "ipv4", "domain": "domain", "hostname": "domain",
    "url": "url", "uri": "url", "link": "url", "user-agent": "user_agent",
    "filename": "file_name", "sha256": "sha256", "sha1": "sha1", "md5": "md5",
    "email": "email", "email-src": "email", "email-dst": "email", "as": "asn",
    "port": "", "text": "", "other": "",
}  # fmt: skip


def parse_misp(text: str, source: str) -> Iterator[Indicator]:
    """A MISP event export ({"Event": {...}}, or a list/response of them)."""
    doc = json.loads(text)
    events: list[dict[str, Any]] = []
    for item in doc if isinstance(doc, list) else doc.get("response", [doc]):
        events.append(item.get("Event", item))
    for event in events:
        info = str(event.get("info", ""))
        org = (event.get("Orgc") or {}).get("name", "") or source
        attrs = list(event.get("Attribute", []))
        for obj in event.get("Object", []) or []:
            attrs.extend(obj.get("Attribute", []))
        for attr in attrs:
            kinds = str(attr.get("type", "")).split("|")
            values = str(attr.get("value", "")).split("|")
            desc = " ".join(p for p in (info, str(attr.get("comment", ""))) if p)
            vfrom, vuntil = _when(attr.get("first_seen")), _when(attr.get("last_seen"))
            for kind, value in zip(kinds, values, strict=False):
                if kind in ("port", "text", "other", "comment") or kind not in _MISP:
                    continue
                found = classify(value, _MISP[kind])
                if found:
                    yield Indicator(found[0], found[1], org, desc, vfrom, vuntil)


def _pattern(ind: Indicator) -> str:
    value = ind.value.replace("\\", "\\\\").replace("'", "\\'")
    path = {
        "ipv4": "ipv4-addr:value", "ipv6": "ipv6-addr:value", "domain": "domain-name:value",
        "url": "url:value", "email": "email-addr:value", "file_name": "file:name",
        "sha256": "file:hashes.'SHA-256'", "sha1": "file:hashes.'SHA-1'", "md5": "file:hashes.MD5",
        "user_agent": "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
        "credential_id": "user-account:user_id",
    }.get(ind.type)  # fmt: skip
    if ind.type == "cidr":
        path = "ipv6-addr:value" if ":" in ind.value else "ipv4-addr:value"
        return f"[{path} ISSUBSET '{value}']"
    if ind.type == "asn":
        return f"[autonomous-system:number = {int(ind.value)}]"
    return f"[{path} = '{value}']"


def to_stix(indicators: Iterable[Indicator], producer: str) -> str:
    """A STIX 2.1 bundle of Indicator objects (patterns validated by stix2)."""
    stix2 = require("stix2", "hunt")
    identity = stix2.Identity(name=producer, identity_class="organization")
    objects: list[Any] = [identity]
    for ind in indicators:
        kwargs: dict[str, Any] = {
            "name": f"{ind.type} {defang(ind)}",
            "pattern": _pattern(ind),
            "pattern_type": "stix",
            "valid_from": ind.valid_from or datetime.now(UTC),
            "created_by_ref": identity.id,
            "indicator_types": ["malicious-activity"],
        }
        if ind.description:
            kwargs["description"] = ind.description
        if ind.valid_until:
            kwargs["valid_until"] = ind.valid_until
        objects.append(stix2.Indicator(**kwargs))
    return str(stix2.Bundle(objects=objects).serialize(pretty=True))


_TYPE_LABEL = {
    "ipv4": "IPv4", "ipv6": "IPv6", "cidr": "CIDR", "domain": "domain", "url": "URL",
    "user_agent": "user agent", "file_name": "file", "sha256": "file", "sha1": "file",
    "md5": "file", "email": "email", "asn": "ASN", "credential_id": "token/key id",
}  # fmt: skip


def to_table(indicators: Iterable[Indicator]) -> str:
    """Defanged markdown table: | indicator | type | note |, one row per indicator; a file
    name and its hashes sharing a note are merged into one row as Cloudflare did."""
    rows: list[tuple[str, str, str]] = []
    files: dict[str, list[str]] = {}
    for ind in indicators:
        label = _TYPE_LABEL[ind.type]
        cell = defang(ind).replace("|", "\\|")
        if label == "file":
            files.setdefault(ind.description, []).append(
                cell if ind.type == "file_name" else f"{ind.type} {cell}"
            )
            continue
        rows.append((cell, label, ind.description.replace("|", "\\|")))
    for note, cells in files.items():
        rows.append((", ".join(sorted(cells, key=lambda c: " " in c)), "file", note))
    lines = ["| indicator | type | note |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"
