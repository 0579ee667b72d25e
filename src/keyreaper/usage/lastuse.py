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
    ips: tuple[str, ...]  # the first CAP, sorted
    ip_count: int
    asns: tuple[int, ...]
    user_agents: tuple[str, ...]
    last_origin: str
    last_source: str
    last_ever: datetime | None  # over all ingested events
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

# One pass: events are grouped per (credential, source IP) first — the same hashing a
# count(DISTINCT src_ip) needs — and those pairs per credential. Pairs also give, without a
# second scan, when each IP was first seen for a credential (for the new-IP flag).
_AGGREGATE = """
WITH m AS ({branches}),
pairs AS (
    SELECT credential, src_ip,
           min(time) AS first_seen, max(time) AS last_seen,
           min(time) FILTER (WHERE time >= $since AND time <= $until) AS w_first,
           max(time) FILTER (WHERE time >= $since AND time <= $until) AS w_last,
           count(*) FILTER (WHERE time >= $since AND time <= $until) AS w_n,
           arg_max(origin, time) FILTER (WHERE time >= $since AND time <= $until) AS w_origin,
           arg_max(source, time) FILTER (WHERE time >= $since AND time <= $until) AS w_source,
           any_value(src_asn) FILTER (WHERE src_asn IS NOT NULL) AS asn,
           list(DISTINCT src_asn) FILTER (WHERE src_asn IS NOT NULL
               AND time >= $since AND time <= $until) AS w_asns,
           list(DISTINCT user_agent) FILTER (WHERE user_agent IS NOT NULL
               AND time >= $since AND time <= $until) AS w_uas
    FROM m GROUP BY credential, src_ip
)
SELECT credential,
       min(w_first), max(w_last), sum(w_n),
       list(src_ip ORDER BY src_ip) FILTER (WHERE w_n > 0 AND src_ip IS NOT NULL)[1:$cap],
       count(src_ip) FILTER (WHERE w_n > 0),
       list_distinct(flatten(list(w_asns) FILTER (WHERE w_n > 0))),
       list_distinct(flatten(list(w_uas) FILTER (WHERE w_n > 0)))[1:$cap],
       arg_max(w_origin, w_last), arg_max(w_source, w_last),
       max(last_seen), min(first_seen),
       list(src_ip) FILTER (WHERE first_seen >= $recent AND src_ip IS NOT NULL),
       list(DISTINCT asn) FILTER (WHERE first_seen >= $recent AND asn IS NOT NULL),
       list(DISTINCT asn) FILTER (WHERE first_seen < $recent AND asn IS NOT NULL)
FROM pairs GROUP BY credential
"""
CAP = 50  # IPs and user agents listed per attestation (the IP count is exact)


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
        params = {"since": since, "until": until, "recent": recent, "cap": CAP}
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    out: dict[str, Use] = {}
    for r in rows:
        older_asns = set(r[14] or ())
        out[r[0]] = Use(
            credential=r[0],
            first=r[1],
            last=r[2],
            count=int(r[3] or 0),
            ips=tuple(r[4] or ()),
            ip_count=int(r[5] or 0),
            asns=tuple(sorted(r[6] or ())),
            user_agents=tuple(sorted(r[7] or ())),
            last_origin=r[8] or "",
            last_source=r[9] or "",
            last_ever=r[10],
            first_ever=r[11],
            new_ips=tuple(sorted(r[12] or ())),
            new_asns=tuple(sorted(a for a in (r[13] or ()) if a not in older_asns)),
        )
    return out
