"""Use after exposure: every event after T0 that shows an exposed credential in use.

An event shows a credential when its credential_id or session_id equals one of the
credential's identifiers. For each credential: count, first and last, distinct IPs, ASNs and
user agents, those never seen with it before T0, the sessions, and sessions replayed from an
IP or ASN they never used before T0 (a stolen session cookie at work). Three verdicts:
USED, NOT_SEEN (the store has events after T0, none of them this credential's), UNKNOWN
(nothing after T0 to look at, or no T0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from keyreaper.domain import Secret, UsageVerdict
from keyreaper.events.store import EventStore
from keyreaper.exposure import store
from keyreaper.fingerprint import Fingerprinter, hint
from keyreaper.store import Database

_MAX_LISTED = 50
MAX_EVENT_VALUES = 5_000_000  # distinct logged ids fingerprinted to find orphans in use  # distinct values listed per field; the counts are always exact

_HITS = """
CREATE TEMP TABLE hits AS
SELECT m.credential, e.time, e.source, e.event_type, e.outcome, e.src_ip, e.src_asn,
       e.user_agent, e.session_id, e.origin
  FROM events e JOIN idmap m ON e.credential_id = m.ident
UNION
SELECT m.credential, e.time, e.source, e.event_type, e.outcome, e.src_ip, e.src_asn,
       e.user_agent, e.session_id, e.origin
  FROM events e JOIN idmap m ON e.session_id = m.ident
"""

_SUMMARY = """
SELECT credential,
       count(*) FILTER (WHERE time >= $t0) AS uses,
       count(*) FILTER (WHERE time >= $t0 AND outcome = 'success') AS successes,
       count(*) FILTER (WHERE time >= $t0 AND outcome = 'failure') AS failures,
       min(time) FILTER (WHERE time >= $t0) AS first_use,
       max(time) FILTER (WHERE time >= $t0) AS last_use,
       arg_min(origin, time) FILTER (WHERE time >= $t0) AS first_origin,
       arg_max(origin, time) FILTER (WHERE time >= $t0) AS last_origin,
       count(*) FILTER (WHERE time < $t0) AS uses_before,
       list(DISTINCT source) FILTER (WHERE time >= $t0) AS sources
  FROM hits GROUP BY credential
"""

# For one column: its values after T0 never seen with the credential before T0, with the
# first event that showed each.
_NEW_VALUES = """
SELECT h.credential, h.{col} AS value, min(h.time) AS first_time, arg_min(h.origin, h.time) AS origin
  FROM hits h
 WHERE h.time >= $t0 AND h.{col} IS NOT NULL AND CAST(h.{col} AS VARCHAR) <> ''
   AND NOT EXISTS (SELECT 1 FROM hits b WHERE b.credential = h.credential
                   AND b.{col} = h.{col} AND b.time < $t0)
 GROUP BY h.credential, h.{col} ORDER BY first_time
"""

_DISTINCT_AFTER = """
SELECT credential, {col} AS value FROM hits
 WHERE time >= $t0 AND {col} IS NOT NULL AND CAST({col} AS VARCHAR) <> ''
 GROUP BY credential, {col} ORDER BY min(time)
"""

# A session seen after T0 from an IP or ASN it never used before T0, while it did exist
# before T0: the same session id replayed from somewhere new.
_REPLAYED = """
SELECT h.credential, h.session_id, min(h.time) AS first_time, arg_min(h.origin, h.time) AS origin,
       arg_min(h.src_ip, h.time) AS src_ip, arg_min(h.src_asn, h.time) AS src_asn
  FROM hits h
 WHERE h.time >= $t0 AND h.session_id IS NOT NULL AND h.session_id <> ''
   AND EXISTS (SELECT 1 FROM hits b WHERE b.credential = h.credential AND b.session_id = h.session_id
               AND b.time < $t0)
   AND (NOT EXISTS (SELECT 1 FROM hits b WHERE b.credential = h.credential AND b.session_id = h.session_id
                    AND b.time < $t0 AND b.src_ip IS NOT DISTINCT FROM h.src_ip)
        OR NOT EXISTS (SELECT 1 FROM hits b WHERE b.credential = h.credential
                       AND b.session_id = h.session_id AND b.time < $t0
                       AND b.src_asn IS NOT DISTINCT FROM h.src_asn))
 GROUP BY h.credential, h.session_id
"""


@dataclass
class UseReport:
    exposure: str
    credential_id: str
    t0: str
    exposed_as: list[str]
    matched_by: str = "inventory"
    verdict: str = UsageVerdict.UNKNOWN.value
    reason: str = ""
    uses: int = 0
    successes: int = 0
    failures: int = 0
    uses_before_t0: int = 0
    first_use: str | None = None
    last_use: str | None = None
    ips: list[str] = field(default_factory=list)
    asns: list[int] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    new_ips: list[str] = field(default_factory=list)
    new_asns: list[int] = field(default_factory=list)
    new_user_agents: list[str] = field(default_factory=list)
    sessions: int = 0
    replayed_sessions: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def report(
    db: Database, events_dir: Path, name: str, fingerprinter: Fingerprinter | None = None
) -> list[UseReport]:
    """Uses after T0 of every credential exposed in `name`; with a fingerprinter, also of
    orphan secrets whose value the logs recorded as a session or credential id."""
    exp = store.get(db, name)
    if exp is None:
        return []
    exposed = store.exposed_credentials(db, name)
    t0 = exp.t0.isoformat() if exp.t0 else ""
    reports = {c: UseReport(name, c, t0, kinds) for c, kinds in sorted(exposed.items())}
    if exp.t0 is None:
        for r in reports.values():
            r.reason = (
                "the exposure has no T0 (set one: keyreaper exposure add --name NAME --t0 TIME)"
            )
        return list(reports.values())
    pairs = (
        [
            (r["credential_id"], r["identifier"])
            for r in db.query(
                "SELECT credential_id, identifier FROM credential_identifiers WHERE credential_id IN ("
                + ", ".join("?" for _ in reports)
                + ")",
                list(reports),
            )
        ]
        if reports
        else []
    )
    con = EventStore(events_dir).connect()
    try:
        if fingerprinter is not None:
            pairs += _orphans_in_events(con, db, name, t0, fingerprinter, reports)
        if not reports:
            return []
        con.register(
            "idmap",
            pa.table(
                {
                    "credential": pa.array([c for c, _ in pairs], pa.string()),
                    "ident": pa.array([i for _, i in pairs], pa.string()),
                }
            ),
        )
        con.execute(_HITS)
        params = {"t0": exp.t0}
        after = con.execute(
            "SELECT list(DISTINCT source) FROM events WHERE time >= $t0", params
        ).fetchone()
        searched = sorted(after[0] or []) if after else []
        _fill(con, params, reports, searched)
    finally:
        con.close()
    return list(reports.values())


_EVENT_VALUES = """
SELECT DISTINCT v FROM (SELECT session_id AS v FROM events UNION ALL
                        SELECT credential_id AS v FROM events)
 WHERE v IS NOT NULL AND length(v) >= 8
"""


def _orphans_in_events(
    con: Any,
    db: Database,
    name: str,
    t0: str,
    fingerprinter: Fingerprinter,
    reports: dict[str, UseReport],
) -> list[tuple[str, str]]:
    """An orphan (a leaked cookie no inventory entry owns) still counts when a log recorded
    its value as a session or credential id: fingerprint the logged values and compare.
    Adds a report per orphan found, named orphan:<kind>:<hint>; returns (that name, value)."""
    orphan_fps: dict[str, dict[str, Any]] = {}
    items = {i["item_key"]: i for i in store.items(db, name) if i["orphan"] and i["fingerprint"]}
    if not items:
        return []
    for r in db.query(
        "SELECT item_key, fingerprint FROM exposure_item_fingerprints WHERE exposure = ?", (name,)
    ):
        if r["item_key"] in items:
            orphan_fps[r["fingerprint"]] = items[r["item_key"]]
    count = con.execute(f"SELECT count(*) FROM ({_EVENT_VALUES})").fetchone()[0]
    if count > MAX_EVENT_VALUES:
        return []  # too many to fingerprint here; inventory matches still work
    pairs: list[tuple[str, str]] = []
    for (value,) in con.execute(_EVENT_VALUES).fetchall():
        for fp in fingerprinter.all_versions(Secret(value)):
            item = orphan_fps.get(fp.value)
            if item is None:
                continue
            pseudo = f"orphan:{item['kind']}:{item['hint']}"
            if pseudo not in reports:
                reports[pseudo] = UseReport(name, pseudo, t0, [item["kind"]])
                reports[pseudo].matched_by = "event value"
            pairs.append((pseudo, value))
            break
    return pairs


def _rows(con: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _fill(
    con: Any, params: dict[str, Any], reports: dict[str, UseReport], searched: list[str]
) -> None:
    for row in _rows(con, _SUMMARY, params):
        r = reports[row["credential"]]
        r.uses, r.successes, r.failures = (
            int(row["uses"]),
            int(row["successes"]),
            int(row["failures"]),
        )
        r.uses_before_t0 = int(row["uses_before"])
        r.first_use, r.last_use = _iso(row["first_use"]), _iso(row["last_use"])
        r.sources = sorted(row["sources"] or [])
        if r.uses:
            r.evidence.append({"what": "first use after T0", "origin": row["first_origin"]})
            if row["last_origin"] != row["first_origin"]:
                r.evidence.append({"what": "last use", "origin": row["last_origin"]})
    for col, attr in (("src_ip", "ips"), ("src_asn", "asns"), ("user_agent", "user_agents")):
        for row in _rows(con, _DISTINCT_AFTER.format(col=col), params):
            values = getattr(reports[row["credential"]], attr)
            if len(values) < _MAX_LISTED:
                values.append(row["value"])
        for row in _rows(con, _NEW_VALUES.format(col=col), params):
            r = reports[row["credential"]]
            values = getattr(r, "new_" + attr)
            if len(values) < _MAX_LISTED:
                values.append(row["value"])
                label = {"src_ip": "IP", "src_asn": "ASN", "user_agent": "user agent"}[col]
                shown = row["value"] if col != "user_agent" else str(row["value"])[:80]
                r.evidence.append(
                    {"what": f"first use from new {label} {shown}", "origin": row["origin"]}
                )
    for row in _rows(
        con,
        "SELECT credential, count(DISTINCT session_id) AS n FROM hits WHERE time >= $t0 AND session_id <> '' GROUP BY 1",
        params,
    ):
        reports[row["credential"]].sessions = int(row["n"])
    for row in _rows(con, _REPLAYED, params):
        r = reports[row["credential"]]
        r.replayed_sessions.append(
            {
                "session": hint(str(row["session_id"])),
                "first_time": _iso(row["first_time"]) or "",
                "src_ip": row["src_ip"],
                "src_asn": row["src_asn"],
                "origin": row["origin"],
            }
        )
    for r in reports.values():
        if r.uses:
            r.verdict = UsageVerdict.USED.value
        elif searched:
            r.verdict = UsageVerdict.NOT_SEEN.value
            r.reason = f"no use after T0 in {len(searched)} source(s) with events after T0"
        else:
            r.reason = "no events at or after T0 in the event store: nothing to judge by"
        if not r.sources:
            r.sources = searched
