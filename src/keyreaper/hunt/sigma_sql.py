"""Compile one Sigma rule (parsed by pySigma) into a DuckDB predicate over the `events` view.

Field names resolve per source (docs/sigma.md): an explicit mapping first, then keyreaper's
normalized column of that exact name, then the same dotted path inside `raw` (the source's
own record) read with json_extract_string. Path segments that are arrays in a source (Okta's
`target[]`, CloudTrail's `resources[]`) are read with `[*]`, and a leaf matches when any
element matches. Every leaf is NULL-safe: a field the event lacks never matches, and
`not <it>` is true, as Sigma means.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from keyreaper.events.schema import EVENT_SCHEMA
from keyreaper.hunt import ipsql

COLUMNS = frozenset(EVENT_SCHEMA.names) - {"raw", "origin", "source"}

# Sigma logsource (product, service or category) -> event-store sources.
LOGSOURCES: dict[str, tuple[str, ...]] = {
    "okta": ("okta",),
    "aws": ("cloudtrail",),
    "cloudtrail": ("cloudtrail",),
    "github": ("github",),
    "bitbucket": ("bitbucket",),
    "confluence": ("confluence",),
    "jira": ("jira",),
    "atlassian": ("bitbucket", "confluence", "jira", "atlassian_org"),
    "google_workspace": ("google_workspace",),
    "gcp": ("google_workspace",),
    "cloudflare": ("cloudflare_access",),
    "kubernetes": ("kubernetes",),
    "sshd": ("sshd",),
    # The event store names these postgresql and web_access; postgres and web are kept for
    # field maps named so.
    "postgresql": ("postgresql", "postgres"),
    "webserver": ("web_access", "web"),
    "proxy": ("web_access", "web"),
}
ALL_SOURCES = (
    "okta", "cloudtrail", "github", "bitbucket", "confluence", "jira", "atlassian_org",
    "google_workspace", "cloudflare_access", "kubernetes", "sshd", "postgresql",
    "web_access", "postgres", "web",
)  # fmt: skip
# Sources whose raw record is a text line, not JSON: JSON paths read NULL there instead of
# failing the whole query.
TEXT_SOURCES = frozenset({"sshd", "postgresql", "web_access", "postgres", "web"})

# Per source: Sigma field -> column name, or "$.json.path" inside raw.
FIELD_MAP: dict[str, dict[str, str]] = {
    "okta": {"eventtype": "$.eventType", "displaymessage": "$.displayMessage"},
    "web": {
        "c-ip": "src_ip",
        "cs-user-agent": "user_agent",
        "cs-uri-stem": "target_name",
        "cs-uri-query": "target_name",
        "cs-uri": "target_name",
        "cs-username": "actor_name",
        "sc-status": "outcome",
        "cs-method": "event_type",
    },
    "sshd": {"user": "actor_name", "ip": "src_ip"},
}
FIELD_MAP["web_access"] = FIELD_MAP["web"]
# Per source: fields (dotted paths) that hold arrays of objects.
ARRAYS: dict[str, tuple[str, ...]] = {
    "okta": ("target", "request.ipChain"),
    "cloudtrail": ("resources",),
    "bitbucket": ("affectedObjects", "changedValues", "extraAttributes"),
    "confluence": ("affectedObjects", "changedValues", "extraAttributes", "associatedObjects"),
    "jira": ("affectedObjects", "changedValues", "extraAttributes"),
    "google_workspace": ("events",),
}
# Per source: the raw field that names the event type (to judge coverage by event type).
EVENT_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "okta": ("eventType", "eventtype"),
    "cloudtrail": ("eventName",),
    "github": ("action",),
    "bitbucket": ("auditType.action",),
    "confluence": ("auditType.action", "type.action"),
    "jira": ("auditType.action", "type.action"),
    "google_workspace": ("events.name",),
    "kubernetes": ("verb",),
}


def sources_for(rule: Any) -> tuple[str, ...]:
    """Event-store sources a rule's logsource names; () when none is known."""
    ls = rule.logsource
    if (ls.product or "").lower() == "keyreaper":
        service = (ls.service or "").lower()
        return (service,) if service in ALL_SOURCES else ALL_SOURCES
    for key in (ls.service, ls.product, ls.category):
        if key and key.lower() in LOGSOURCES:
            return LOGSOURCES[key.lower()]
    return ()


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _json_path(parts: list[str]) -> str:
    out = "$"
    for p in parts:
        out += f".{p}" if re.fullmatch(r"[A-Za-z_][\w]*", p) else '."' + p.replace('"', '\\"') + '"'
    return out


@dataclass
class FieldRef:
    """How one Sigma field reads in one source."""

    name: str
    sql: str
    is_list: bool
    presence: str  # SQL that is true when the event carries the field at all


def resolve(source: str, name: str) -> FieldRef:
    if name == "raw":  # the whole original record as text
        return FieldRef(name, "raw", False, "raw IS NOT NULL")
    target = FIELD_MAP.get(source, {}).get(name, name if name in COLUMNS else "")
    if target and not target.startswith("$"):
        return FieldRef(name, target, False, f"{target} IS NOT NULL")
    parts = target[2:].split(".") if target else name.split(".")
    arrays = ARRAYS.get(source, ())
    raw = "CASE WHEN json_valid(raw) THEN raw END" if source in TEXT_SOURCES else "raw"
    array = next((a for a in arrays if parts[: a.count(".") + 1] == a.split(".")), "")
    if array and len(parts) > array.count(".") + 1:
        n = array.count(".") + 1
        path = _json_path(parts[:n]) + "[*]" + _json_path(parts[n:])[1:]
        sql = f"json_extract_string({raw}, {lit(path)})"
        return FieldRef(name, sql, True, f"len(list_filter({sql}, lambda x: x IS NOT NULL)) > 0")
    sql = f"json_extract_string({raw}, {lit(_json_path(parts))})"
    return FieldRef(name, sql, False, f"{sql} IS NOT NULL")


def like_pattern(s: SigmaString) -> str:
    out = []
    for part in s.s:
        if part is SpecialChars.WILDCARD_MULTI:
            out.append("%")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append("_")
        elif isinstance(part, str):
            out.append(part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        else:
            raise Unsupported(f"placeholder {part} in value")
    return "".join(out)


class Unsupported(Exception):
    """A rule construct keyreaper cannot run; the rule is reported, not silently skipped."""


@dataclass
class Compiled:
    """The predicate for one source and what it needs."""

    where: str
    fields: dict[str, FieldRef] = field(default_factory=dict)
    event_types: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


class Compiler:
    def __init__(self, source: str) -> None:
        self.source = source
        self.out = Compiled("")

    def field(self, name: str) -> FieldRef:
        ref = resolve(self.source, name)
        self.out.fields.setdefault(name, ref)
        return ref

    def compile(self, rule: SigmaRule) -> Compiled:
        parts = [self.node(c.parsed) for c in rule.detection.parsed_condition]
        self.out.where = " OR ".join(f"({p})" for p in parts) if parts else "false"
        return self.out

    def node(self, node: Any) -> str:
        if isinstance(node, ConditionAND):
            return "(" + " AND ".join(self.node(a) for a in node.args) + ")"
        if isinstance(node, ConditionOR):
            return "(" + " OR ".join(self.node(a) for a in node.args) + ")"
        if isinstance(node, ConditionNOT):
            return f"(NOT {self.node(node.args[0])})"
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.leaf(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self.keyword(node.value)
        raise Unsupported(f"condition element {type(node).__name__}")

    def keyword(self, value: Any) -> str:
        if not isinstance(value, SigmaString):
            raise Unsupported(f"keyword of type {type(value).__name__}")
        return f"coalesce(raw ILIKE {lit('%' + like_pattern(value) + '%')} ESCAPE '\\', false)"

    def leaf(self, name: str | None, value: Any) -> str:
        if name is None:
            return self.keyword(value)
        ref = self.field(name)
        if isinstance(value, SigmaExists):
            return ref.presence if value.exists else f"NOT ({ref.presence})"
        if isinstance(value, SigmaNull):
            return f"NOT ({ref.presence})"
        if isinstance(value, SigmaFieldReference):
            other = self.field(value.field)
            if ref.is_list or other.is_list:
                raise Unsupported("field reference between array fields")
            if value.starts_with:
                test = f"starts_with(lower({ref.sql}), lower({other.sql}))"
            elif value.ends_with:
                test = f"ends_with(lower({ref.sql}), lower({other.sql}))"
            else:
                test = f"lower({ref.sql}) = lower({other.sql})"
            return f"coalesce({test}, false)"
        pred = self.predicate(value)
        is_type = name in EVENT_TYPE_FIELDS.get(self.source, ()) or name == "event_type"
        if is_type and isinstance(value, SigmaString) and not value.contains_special():
            self.out.event_types.add(str(value))
        if ref.is_list:
            return (
                f"coalesce(len(list_filter({ref.sql}, lambda x: {pred.format(x='x')})) > 0, false)"
            )
        return f"coalesce({pred.format(x=ref.sql)}, false)"

    def predicate(self, value: Any) -> str:
        """A template with {x} standing for the value under test."""
        if isinstance(value, SigmaCasedString):
            return (
                "{x} LIKE "
                + lit(like_pattern(value)).replace("{", "{{").replace("}", "}}")
                + " ESCAPE '\\'"
            )
        if isinstance(value, SigmaString):
            return (
                "{x} ILIKE "
                + lit(like_pattern(value)).replace("{", "{{").replace("}", "}}")
                + " ESCAPE '\\'"
            )
        if isinstance(value, SigmaBool):
            return "lower({x}) = " + lit(str(value.boolean).lower())
        if isinstance(value, SigmaNumber):
            return "TRY_CAST({x} AS DOUBLE) = " + str(float(value.number))
        if isinstance(value, SigmaRegularExpression):
            flags = "".join(sorted(value.sigma_to_re_flag[f] for f in value.flags))
            rx = lit(
                str(value.regexp.original if hasattr(value.regexp, "original") else value.regexp)
            )
            rx = rx.replace("{", "{{").replace("}", "}}")
            return "regexp_matches({x}, " + rx + (f", {lit(flags)})" if flags else ")")
        if isinstance(value, SigmaCompareExpression):
            op = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">=", "NEQ": "<>"}[value.op.name]
            return "TRY_CAST({x} AS DOUBLE) " + op + " " + str(float(value.number.number))
        if isinstance(value, SigmaCIDRExpression):
            net = value.network
            if isinstance(net, ipaddress.IPv6Network):
                lo6, hi6 = ipsql.v6_bounds(net)
                return "kr_ip6({x}) BETWEEN " + f"'{lo6}' AND '{hi6}'"
            lo, hi = ipsql.v4_bounds(net)
            return "kr_ip4({x}) BETWEEN " + f"{lo} AND {hi}"
        raise Unsupported(f"value type {type(value).__name__}")


# IPv4 text -> integer, IPv6 text -> fixed-width hex (NULL if not an address), for CIDR values.
MACROS = ipsql.MACROS


def compile_rule(rule: SigmaRule, source: str) -> Compiled:
    return Compiler(source).compile(rule)
