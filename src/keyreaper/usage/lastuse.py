"""Last use per credential in one DuckDB pass over the event store.

Events link to credentials by identifier (credential_identifiers in the state store):
  - events.credential_id (access key id, token id, SHA256 key fingerprint, db role, client id)
  - events.session_id (Okta and other sessions)
  - events.actor_id / actor_name, for kinds whose identity *is* the actor (service accounts,
    passwords, other)
  - an ASIA key (or any key) named in events.issued_credential_id by a call made with a
    linked key, or for a linked role ARN (target_id), counts as that credential's use.
Failed attempts (outcome = failure) do not count as use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from keyreaper.events.store import EventStore

ACTOR_KINDS = frozenset({"service_account", "password", "other"})


@dataclass(frozen=True)
class Link:
    identifier: str
    credential: str
    via: str  # credential, session or actor


@dataclass(frozen=True)
class Use:
    credential: str
    first: datetime | None  # in the window
    last: datetime | None
    count: int
    ips: tuple[str, ...]  # the last use's, and those of the recent days (up to CAP, sorted)
    ip_count: int
    asns: tuple[int, ...]
    user_agents: tuple[str, ...]
    last_origin: str
    last_source: str
    last_ever: datetime | None  # the last use up to the window end
    first_ever: datetime | None
    new_ips: tuple[str, ...]  # first seen for this credential since `recent`
    new_asns: tuple[int, ...]  # ASNs of events since `recent` never seen before it


def links_for(
    identifiers: Mapping[str, Iterable[str]], kinds: Mapping[str, str], store: EventStore
) -> list[Link]:
    """identifier -> credential links, extended with keys those credentials issued."""
    out = []
    for identifier, creds in identifiers.items():
        for cred in creds:
            out.append(Link(identifier, cred, "credential"))
            if kinds.get(cred) == "session":
                out.append(Link(identifier, cred, "session"))
            if kinds.get(cred) in ACTOR_KINDS:
                out.append(Link(identifier, cred, "actor"))
    issued = store.query(
        "SELECT DISTINCT issued_credential_id AS issued, credential_id AS parent, target_id"
        " FROM events WHERE issued_credential_id IS NOT NULL"
    )
    owner: dict[str, set[str]] = {}
    for link in out:
        owner.setdefault(link.identifier, set()).add(link.credential)
    for _ in range(3):  # a role chain is rarely deeper than this
        added = False
        for row in issued:
            creds = owner.get(row["parent"] or "", set()) | owner.get(row["target_id"] or "", set())
            new = creds - owner.get(row["issued"], set())
            for cred in new:
                out.append(Link(row["issued"], cred, "credential"))
                owner.setdefault(row["issued"], set()).add(cred)
                added = True
        if not added:
            break
    return out


_BRANCH = """
SELECT l.credential, e.time, e.src_ip, e.src_asn, e.user_agent, e.origin, e.source
FROM events e JOIN links l ON e.{column} = l.identifier AND l.via = '{via}'
WHERE e.outcome IS DISTINCT FROM 'failure'
"""

# The window: exact first/last/count/distinct-IP count and the last use's evidence, IP, ASN
# and user agent (so a USED verdict always names where its last use came from). Plain
# WHERE + GROUP BY (FILTER clauses cost more than a second, simpler scan).
_WINDOW_SQL = """
WITH m AS ({branches})
SELECT credential, min(time), max(time), count(*), count(DISTINCT src_ip),
       arg_max(source || ' ' || origin, time),
       arg_max(src_ip, time), arg_max(src_asn, time), arg_max(user_agent, time)
FROM m WHERE time >= $since AND time <= $until GROUP BY credential
"""

# Before the window: the last earlier use (stale / never used) and whether there is history.
_BEFORE_SQL = """
WITH m AS ({branches})
SELECT credential, max(time), min(time) FROM m WHERE time < $since GROUP BY credential
"""

# The recent days (the last new_source_days of the window): IPs, ASNs and user agents used,
# and which (credential, IP|ASN) pairs were never seen before them. Only recent pairs are
# hashed, so memory stays small.
_RECENT_SQL = """
WITH m AS ({branches})
SELECT credential, list(DISTINCT src_ip) FILTER (WHERE src_ip IS NOT NULL),
       list(DISTINCT src_asn) FILTER (WHERE src_asn IS NOT NULL),
       list(DISTINCT user_agent) FILTER (WHERE user_agent IS NOT NULL),
       min(time)
FROM m WHERE time >= $recent AND time <= $until GROUP BY credential
"""
_NEW_SQL = """
WITH m AS ({branches}),
r AS (SELECT DISTINCT credential, {column} AS v FROM m
      WHERE time >= $recent AND time <= $until AND {column} IS NOT NULL),
o AS (SELECT DISTINCT m.credential, m.{column} AS v FROM m
      SEMI JOIN r ON m.credential = r.credential AND m.{column} = r.v
      WHERE m.time < $recent)
SELECT credential, list(v ORDER BY v) FROM r ANTI JOIN o USING (credential, v) GROUP BY 1
"""
CAP = 50  # IPs and user agents listed per attestation


def _present(value: Any) -> tuple[Any, ...]:
    return () if value is None else (value,)


def last_use(
    store: EventStore,
    links: list[Link],
    since: datetime,
    until: datetime,
    recent: datetime,
) -> dict[str, Use]:
    if not links:
        return {}
    table = pa.table(
        {
            "identifier": [x.identifier for x in links],
            "credential": [x.credential for x in links],
            "via": [x.via for x in links],
        }
    )
    vias = {x.via for x in links}
    branches = []
    if "credential" in vias:
        branches.append(_BRANCH.format(column="credential_id", via="credential"))
    if "session" in vias:
        branches.append(_BRANCH.format(column="session_id", via="session"))
    if "actor" in vias:
        branches.append(_BRANCH.format(column="actor_id", via="actor"))
        branches.append(_BRANCH.format(column="actor_name", via="actor"))
    # UNION (not ALL) so an event linked twice to one credential counts once; with a
    # single branch there is nothing to deduplicate.
    union = " UNION ".join(branches)
    recent = max(recent, since)
    con = store.connect()
    try:
        con.register("links", table)

        def run(sql: str, **params: Any) -> list[Any]:
            rows: list[Any] = con.execute(sql.format(branches=union), params).fetchall()
            return rows

        window = run(_WINDOW_SQL, since=since, until=until)
        before = {r[0]: r for r in run(_BEFORE_SQL, since=since)}
        lately = {r[0]: r for r in run(_RECENT_SQL, recent=recent, until=until)}
        # Each check scans the store again: skip it when the recent days show nothing.
        new_ips: dict[str, list[str]] = {}
        new_asns: dict[str, list[int]] = {}
        if any(r[1] for r in lately.values()):
            sql = _NEW_SQL.replace("{column}", "src_ip")
            new_ips = dict(run(sql, recent=recent, until=until))
        if any(r[2] for r in lately.values()):
            sql = _NEW_SQL.replace("{column}", "src_asn")
            new_asns = dict(run(sql, recent=recent, until=until))
    finally:
        con.close()
    out: dict[str, Use] = {}
    for cred, first, last, n, n_ips, evidence, last_ip, last_asn, last_agent in window:
        early = before.get(cred)
        late = lately.get(cred) or (cred, (), (), (), None)
        source, _, origin = (evidence or "").partition(" ")
        out[cred] = Use(
            credential=cred,
            first=first,
            last=last,
            count=int(n),
            ips=tuple(sorted({*(late[1] or ()), *_present(last_ip)}))[:CAP],
            ip_count=int(n_ips or 0),
            asns=tuple(sorted({*(late[2] or ()), *_present(last_asn)})),
            user_agents=tuple(sorted({*(late[3] or ()), *_present(last_agent)}))[:CAP],
            last_origin=origin,
            last_source=source,
            last_ever=last,
            first_ever=early[2] if early else first,
            new_ips=tuple(new_ips.get(cred) or ()),
            new_asns=tuple(new_asns.get(cred) or ()),
        )
    for cred, last_before, first_before in before.values():
        if cred not in out:
            out[cred] = Use(
                credential=cred,
                first=None,
                last=None,
                count=0,
                ips=(),
                ip_count=0,
                asns=(),
                user_agents=(),
                last_origin="",
                last_source="",
                last_ever=last_before,
                first_ever=first_before,
                new_ips=(),
                new_asns=(),
            )
    return out
