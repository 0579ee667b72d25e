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
    ips: tuple[str, ...]
    asns: tuple[int, ...]
    user_agents: tuple[str, ...]
    last_origin: str
    last_source: str
    last_ever: datetime | None  # over all ingested events
    recent_ips: tuple[str, ...]  # seen since `recent`
    older_ips: tuple[str, ...]  # seen before `recent`
    recent_asns: tuple[int, ...]
    older_asns: tuple[int, ...]


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

_AGGREGATE = """
WITH m AS ({branches}),
w AS (SELECT * FROM m WHERE time >= $since AND time <= $until)
SELECT a.credential, w1.first, w1.last, coalesce(w1.n, 0), w1.ips, w1.asns, w1.uas,
       w1.last_origin, w1.last_source, a.last_ever, a.recent_ips, a.older_ips,
       a.recent_asns, a.older_asns
FROM (
    SELECT credential, max(time) AS last_ever,
           list(DISTINCT src_ip) FILTER (WHERE time >= $recent AND src_ip IS NOT NULL)
               AS recent_ips,
           list(DISTINCT src_ip) FILTER (WHERE time < $recent AND src_ip IS NOT NULL)
               AS older_ips,
           list(DISTINCT src_asn) FILTER (WHERE time >= $recent AND src_asn IS NOT NULL)
               AS recent_asns,
           list(DISTINCT src_asn) FILTER (WHERE time < $recent AND src_asn IS NOT NULL)
               AS older_asns
    FROM m GROUP BY credential
) a LEFT JOIN (
    SELECT credential, min(time) AS first, max(time) AS last, count(*) AS n,
           list(DISTINCT src_ip) FILTER (WHERE src_ip IS NOT NULL) AS ips,
           list(DISTINCT src_asn) FILTER (WHERE src_asn IS NOT NULL) AS asns,
           list(DISTINCT user_agent) FILTER (WHERE user_agent IS NOT NULL) AS uas,
           arg_max(origin, time) AS last_origin, arg_max(source, time) AS last_source
    FROM w GROUP BY credential
) w1 USING (credential)
"""


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
    sql = _AGGREGATE.format(branches=" UNION ".join(branches))
    con = store.connect()
    try:
        con.register("links", table)
        rows = con.execute(sql, {"since": since, "until": until, "recent": recent}).fetchall()
    finally:
        con.close()
    out: dict[str, Use] = {}
    for r in rows:
        out[r[0]] = Use(
            credential=r[0],
            first=r[1],
            last=r[2],
            count=int(r[3]),
            ips=tuple(sorted(r[4] or ())),
            asns=tuple(sorted(r[5] or ())),
            user_agents=tuple(sorted(r[6] or ())),
            last_origin=r[7] or "",
            last_source=r[8] or "",
            last_ever=r[9],
            recent_ips=tuple(r[10] or ()),
            older_ips=tuple(r[11] or ()),
            recent_asns=tuple(r[12] or ()),
            older_asns=tuple(r[13] or ()),
        )
    return out
