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
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

import pyarrow as pa

from keyreaper.events.store import EventStore

ACTOR_KINDS = frozenset({"service_account", "password", "other"})


class Link(NamedTuple):  # a tuple: 100,000 of them are made per run
    identifier: str
    credential: str
    via: str  # credential, session or actor


class Use(NamedTuple):  # a tuple: built 100,000 at a time from result columns
    credential: str
    first: datetime | None  # in the window
    last: datetime | None
    count: int  # type: ignore[assignment]  # shadows tuple.count, on purpose
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
    out = [Link(i, c, "credential") for i, creds in identifiers.items() for c in creds]
    extra = {cred: kind for cred, kind in kinds.items() if kind == "session" or kind in ACTOR_KINDS}
    if extra:
        for identifier, cred, _ in list(out):
            kind = extra.get(cred)
            if kind is not None:
                out.append(Link(identifier, cred, "session" if kind == "session" else "actor"))
    issued = store.query(
        "SELECT DISTINCT issued_credential_id AS issued, credential_id AS parent, target_id"
        " FROM events WHERE issued_credential_id IS NOT NULL"
    )
    if not issued:
        return out
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
SELECT l.cidx, e.time, e.src_ip, e.src_asn, e.user_agent, e.origin, e.source
FROM {{events}} e JOIN links l ON e.{column} = l.identifier AND l.via = '{via}'
WHERE e.outcome IS DISTINCT FROM 'failure' AND e.time >= $lo AND e.time <= $hi
"""

# The window, in one pass grouped first by (credential, IP) — the work count(DISTINCT
# src_ip) does anyway — then by credential: first/last/count, distinct IPs, and the IPs first
# seen (in the window) in the recent days. Credentials are integers and IPs 64-bit hashes
# here, so the pair table holds no strings (a miscount would need two IPs of one credential
# to share a 64-bit hash); the IP texts come from the recent-days pass. Few aggregates per
# pair on purpose: each one more costs about a tenth of the query.
_WINDOW_SQL = """
WITH m AS ({branches}),
p AS (SELECT cidx, hash(src_ip) AS ip, min(time) AS first_seen, max(time) AS last_seen,
             count(*) AS n
      FROM m GROUP BY ALL)
SELECT cidx, min(first_seen) AS first, max(last_seen) AS last, sum(n) AS n,
       count(*) FILTER (WHERE ip <> hash(NULL::VARCHAR)) AS n_ips,
       list(ip) FILTER (WHERE first_seen >= $recent AND ip <> hash(NULL::VARCHAR)) AS new_ips
FROM p GROUP BY cidx
"""

# Before the window (row groups after it are skipped): the last and first earlier use.
_BEFORE_SQL = """
WITH m AS ({branches})
SELECT cidx, max(time) AS last_before, min(time) AS first_before FROM m GROUP BY cidx
"""

# Which recent-day IPs, new in the window, were seen before it after all.
_SEEN_BEFORE_SQL = """
WITH m AS ({branches})
SELECT DISTINCT m.cidx, hash(m.src_ip) AS ip FROM m
SEMI JOIN candidates c ON m.cidx = c.cidx AND hash(m.src_ip) = c.ip
"""

# The last use's evidence, IP, ASN and user agent. Only events from the earliest last use on
# are read (row groups before it are skipped by their time statistics), and only those at a
# credential's last-use time are aggregated: events are first kept by time alone (an integer
# semi join, see _AT_LAST) before the costlier join to the links by identifier.
_LAST_SQL = """
WITH m AS ({branches})
SELECT cidx, arg_max({{'source': source, 'origin': origin, 'ip': src_ip, 'asn': src_asn,
                      'agent': user_agent}}, time) AS ev
FROM m SEMI JOIN (SELECT cidx, last AS time FROM w) lasts USING (cidx, time) GROUP BY cidx
"""

# The recent days (the last new_source_days of the window): IPs (with their hashes, to name
# the new ones), ASNs and user agents used.
_RECENT_SQL = """
WITH m AS ({branches})
SELECT cidx, list(DISTINCT {{'ip': src_ip, 'hash': hash(src_ip)}})
             FILTER (WHERE src_ip IS NOT NULL) AS ips,
       list(DISTINCT src_asn) FILTER (WHERE src_asn IS NOT NULL) AS asns,
       list(DISTINCT user_agent) FILTER (WHERE user_agent IS NOT NULL) AS agents
FROM m GROUP BY cidx
"""

# ASNs of the recent days never seen before them (run only when the recent days have ASNs).
_NEW_ASN_SQL = """
WITH m AS ({branches}),
r AS (SELECT DISTINCT cidx, src_asn AS v FROM m WHERE time >= $recent AND src_asn IS NOT NULL),
o AS (SELECT DISTINCT m.cidx, m.src_asn AS v FROM m
      SEMI JOIN r ON m.cidx = r.cidx AND m.src_asn = r.v WHERE m.time < $recent)
SELECT cidx, list(v ORDER BY v) AS v FROM r ANTI JOIN o USING (cidx, v) GROUP BY 1
"""

# Everything per credential, put together in DuckDB (not in a Python loop of 100,000). Times
# as epoch microseconds and empty lists as NULL: DuckDB's own conversion of a zoned
# timestamp or a list to Python costs several microseconds each, 100,000 times over.
_RESULT_SQL = """
WITH nh AS (SELECT cidx, unnest(new_ips) AS hash FROM w),
nk AS (SELECT * FROM nh ANTI JOIN seen ON nh.cidx = seen.cidx AND nh.hash = seen.ip),
ri AS (SELECT cidx, unnest(ips, recursive := true) FROM r),
nn AS (SELECT ri.cidx, list(ri.ip ORDER BY ri.ip) AS names FROM ri
       SEMI JOIN nk ON ri.cidx = nk.cidx AND ri.hash = nk.hash GROUP BY ri.cidx)
SELECT cidx, epoch_us(w.first), epoch_us(w.last), CAST(coalesce(w.n, 0) AS BIGINT),
       nullif(list_sort(list_distinct(list_concat(list_transform(r.ips, lambda x: x.ip),
                                                  [d.ev.ip])))[1:{cap}], []),
       coalesce(w.n_ips, 0),
       nullif(list_sort(list_distinct(list_concat(r.asns, [d.ev.asn]))), []),
       nullif(list_sort(list_distinct(list_concat(r.agents, [d.ev.agent])))[1:{cap}], []),
       coalesce(d.ev.origin, ''), coalesce(d.ev.source, ''),
       epoch_us(coalesce(w.last, b.last_before)), epoch_us(coalesce(b.first_before, w.first)),
       nn.names, na.v
FROM w FULL JOIN b USING (cidx) LEFT JOIN r USING (cidx) LEFT JOIN d USING (cidx)
LEFT JOIN nn USING (cidx) LEFT JOIN na USING (cidx)
"""
_AT_LAST = "(SELECT * FROM events SEMI JOIN (SELECT DISTINCT last AS time FROM w) USING (time))"
CAP = 50  # IPs and user agents listed per attestation
EPOCH = datetime(1, 1, 2, tzinfo=UTC)
TICK = timedelta(microseconds=1)  # the store's time resolution


def last_use(
    store: EventStore,
    links: list[Link],
    since: datetime,
    until: datetime,
    recent: datetime,
) -> dict[str, Use]:
    if not links:
        return {}
    creds = sorted({x.credential for x in links})
    number = {c: i for i, c in enumerate(creds)}
    table = pa.table(
        {
            "identifier": [x.identifier for x in links],
            "cidx": pa.array([number[x.credential] for x in links], pa.int32()),
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
        con.execute("SET preserve_insertion_order = false")  # every step aggregates
        con.register("links", table)

        def keep(
            name: str, sql: str, lo: datetime, hi: datetime, events: str = "events", **params: Any
        ) -> None:
            query = f"CREATE TEMP TABLE {name} AS " + sql.format(
                branches=union.format(events=events)
            )
            con.execute(query, {"lo": lo, "hi": hi, **params})

        def scalar(sql: str) -> Any:
            row = con.execute(sql).fetchone()
            return row[0] if row else None

        keep("w", _WINDOW_SQL, since, until, recent=recent)
        keep("b", _BEFORE_SQL, EPOCH, since - TICK)
        con.execute(
            "CREATE TEMP TABLE candidates AS"
            " SELECT cidx, unnest(new_ips) AS ip FROM w SEMI JOIN b USING (cidx)"
        )
        if scalar("SELECT count(*) FROM candidates"):
            keep("seen", _SEEN_BEFORE_SQL, EPOCH, since - TICK)
        else:
            con.execute("CREATE TEMP TABLE seen AS SELECT cidx, ip FROM candidates")
        floor = scalar("SELECT min(last) FROM w") or until
        keep("d", _LAST_SQL, floor, until, events=_AT_LAST)
        keep("r", _RECENT_SQL, recent, until)
        if scalar("SELECT count(*) FROM r WHERE len(asns) > 0"):
            keep("na", _NEW_ASN_SQL, EPOCH, until, recent=recent)
        else:
            con.execute("CREATE TEMP TABLE na AS SELECT cidx, asns AS v FROM r WHERE false")
        result = con.sql(_RESULT_SQL.format(cap=CAP)).to_arrow_table()
    finally:
        con.close()
    return _uses(result, creds)


def _uses(result: pa.Table, creds: list[str]) -> dict[str, Use]:
    """Use tuples from the result columns, converted a column at a time (Arrow and numpy do
    the per-value work in C; a row-by-row fetch costs several times more at 100,000 rows)."""
    cols = [c.combine_chunks() for c in result.columns]
    names = [creds[i] for i in cols[0].to_numpy().tolist()]
    first, last = _times(cols[1]), _times(cols[2])
    # The use up to the window end is nearly always the window's own: reuse those objects.
    last_ever = _times(cols[10], cols[2], last)
    first_ever = _times(cols[11], cols[1], first)
    columns = [
        names,
        first,
        last,
        cols[3].to_numpy().astype("int64").tolist(),
        _tuples(cols[4]),
        cols[5].to_numpy().tolist(),
        _tuples(cols[6]),
        _tuples(cols[7]),
        cols[8].to_pylist(),
        cols[9].to_pylist(),
        last_ever,
        first_ever,
        _tuples(cols[12]),
        _tuples(cols[13]),
    ]
    return dict(zip(names, map(Use._make, zip(*columns, strict=True)), strict=True))


def _times(
    micros: pa.Array, same: pa.Array | None = None, made: list[datetime | None] | None = None
) -> list[datetime | None]:
    """Epoch microseconds -> UTC datetimes (None for NULL); where `micros` equals `same`
    everywhere, the datetimes already `made` from it are returned."""
    if same is not None and made is not None and micros.equals(same):
        return made
    naive = micros.fill_null(0).to_numpy().astype("datetime64[us]").tolist()
    if not micros.null_count:
        return [d.replace(tzinfo=UTC) for d in naive]
    valid = micros.is_valid().to_numpy(zero_copy_only=False).tolist()
    return [d.replace(tzinfo=UTC) if v else None for d, v in zip(naive, valid, strict=True)]


def _tuples(lists: pa.Array) -> list[tuple[Any, ...]]:
    """A list column -> one tuple per row (NULL -> ())."""
    if lists.null_count == len(lists):
        return [()] * len(lists)
    values = lists.values.to_pylist()  # offsets index the whole child array
    offsets = lists.offsets.to_numpy().tolist()
    out = [tuple(values[a:b]) if b > a else () for a, b in pairwise(offsets)]
    if lists.null_count:  # a NULL entry may still span values
        valid = lists.is_valid().to_numpy(zero_copy_only=False).tolist()
        out = [t if v else () for t, v in zip(out, valid, strict=True)]
    return out
