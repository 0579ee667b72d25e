"""Everything the report shows, read from the workspace's stored state through the same
functions the commands use (campaign status, exposure list, the stored attestations, stored
hunt hits, hunt coverage, the timeline, ioc export --table). Nothing here recomputes what is
stored; coverage is not stored, so it is computed as `hunt coverage` does."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from keyreaper import rotate
from keyreaper.events.store import EventStore
from keyreaper.exposure import store as exposure_store
from keyreaper.hunt import coverage as hunt_coverage
from keyreaper.hunt import packs
from keyreaper.hunt import store as hunt_store
from keyreaper.hunt import timeline as tl
from keyreaper.hunt.ioc_formats import to_table
from keyreaper.inventory import repo
from keyreaper.rotate import exceptions, status, watch
from keyreaper.store import Database
from keyreaper.usage.store import latest_all, severity
from keyreaper.workspace import Workspace

TIMELINE_ROWS = 2000  # the table stops here (the picture has every row); --json has all


@dataclass
class Report:
    workspace: str
    generated_at: datetime
    since: datetime | None
    until: datetime | None
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    exposures: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    has_events: bool = False
    hits: int = 0
    hit_groups: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    hunts: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)
    iocs: list[dict[str, str]] = field(default_factory=list)

    @property
    def gaps(self) -> list[dict[str, Any]]:
        return [r for r in self.coverage if r["status"] != "ok"]

    @property
    def blind(self) -> list[str]:
        return sorted({r["hunt"] for r in self.coverage if r["hunt_blind"]})

    def counts(self) -> dict[str, int]:
        """The numbers of the verdict line."""
        return {
            "dead": sum(c["counts"]["dead"] for c in self.campaigns),
            "items": sum(c["counts"]["total"] for c in self.campaigns),
            "claimed_unused_used": sum(1 for u in self.usage if u["severity"] == "critical"),
            "gaps": len(self.gaps),
            "hits": self.hits,
        }

    def verdict(self) -> str:
        c = self.counts()
        gaps = (
            f"{c['gaps']} coverage gaps"
            if self.has_events
            else "no events ingested (every hunt blind)"
        )
        return (
            f"{c['dead']} of {c['items']} campaign items verified dead; "
            f"{c['claimed_unused_used']} credentials claimed unused but USED; {gaps}; "
            f"{c['hits']} hunt hits"
        )


def campaigns(ws: Workspace, names: Sequence[str]) -> list[dict[str, Any]]:
    """What `campaign status NAME --json` prints, per campaign (all of them by default).
    Like status, expired exceptions end and the watch runs first: a report must not show an
    expired exception as excepted, nor miss a use of a revoked key."""
    if not names:
        names = [
            r["name"] for r in ws.db.query("SELECT name FROM campaigns ORDER BY created_at, name")
        ]
    out = []
    for name in names:
        journal = rotate.journal(ws, name)  # a clear error for an unknown name
        exceptions.expire(journal)
        watch.check(journal, ws.events_dir)
        out.append(status.status(journal))
    return out


def exposures(ws: Workspace) -> list[dict[str, Any]]:
    """`exposure list` rows, each with its matched credentials and unmatched items."""
    rows = exposure_store.list_exposures(ws.db)
    for r in rows:
        r["matched"] = [
            {"credential_id": cred, "exposed_as": kinds}
            for cred, kinds in sorted(exposure_store.exposed_credentials(ws.db, r["name"]).items())
        ]
        r["sources"] = [
            f"{f['path']} ({f['file_type']}, {f['items']} items, {f['status']})"
            for f in exposure_store.files(ws.db, r["name"])
        ]
        r["unmatched"] = [
            {
                "kind": i["kind"],
                "hint": i["hint"],
                "identifier": i["identifier"],
                "occurrences": i["occurrences"],
                "where": _where(i["evidence"]),
            }
            for i in exposure_store.items(ws.db, r["name"])
            if i["orphan"]
        ]
    return rows


def _where(evidence: dict[str, Any]) -> str:
    # as `exposure show` writes it: the location, the field name, the URL
    parts = (
        evidence.get("location") or evidence.get("where"),
        evidence.get("name"),
        evidence.get("url"),
    )
    return " ".join(str(p) for p in parts if p)


def _flag_rank(flags: Sequence[str]) -> int:
    """Claimed unused but used first, then never used, stale, new IP or ASN."""
    ranks = [("critical:", 0), ("never_used", 1), ("stale:", 2), ("new_ip:", 3), ("new_asn:", 3)]
    found = [rank for flag in flags for prefix, rank in ranks if flag.startswith(prefix)]
    return min(found, default=4)


def usage(ws: Workspace) -> list[dict[str, Any]]:
    """The newest stored attestation of each credential, in `usage --json`'s field names,
    flagged ones first in order of how much they matter."""
    creds = {c.id: c for c in repo.list_credentials(ws.db)}
    rows = []
    for cid, a in latest_all(ws.db).items():
        cred = creds.get(cid)
        rows.append(
            {
                "credential_id": cid,
                "provider": cred.provider if cred else "",
                "kind": cred.kind if cred else "",
                "claim": cred.claim.status if cred and cred.claim else "",
                "verdict": a.verdict.value,
                "severity": severity(a),
                "window_start": a.window_start.isoformat(),
                "window_end": a.window_end.isoformat(),
                "computed_at": a.computed_at.isoformat(),
                "last_use": a.last_use.isoformat() if a.last_use else None,
                "use_count": a.use_count,
                "distinct_ips": list(a.distinct_ips),
                "last_evidence": a.last_evidence,
                "sources_searched": list(a.sources_searched),
                "gaps": list(a.gaps),
                "flags": list(a.flags),
                "rank": _flag_rank(a.flags),
            }
        )
    return sorted(rows, key=lambda r: (r["rank"], r["credential_id"]))


def _in_window(time: str, since: datetime | None, until: datetime | None) -> bool:
    t = datetime.fromisoformat(time)
    return (since is None or t >= since) and (until is None or t < until)


_GROUP = "kind, hunt, indicator"
_LISTED = {"sources": "source", "actors": "actor", "targets": "target",
           "credentials": "CASE WHEN inventory_id <> '' THEN inventory_id ELSE credential END"}  # fmt: skip


def hit_groups(
    db: Database, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """Stored hits (the hunt_hits table hunt/store.py writes) grouped per hunt and indicator:
    how many, when, from where, who, against what, and the first three origins (file:line)
    to find the evidence again. Grouped in the store: a Code Red's hunts keep 10^5 hits."""
    where, params = ["1 = 1"], list[Any]()
    if since:  # times are stored as UTC ISO text, so text order is time order
        where.append("time >= ?")
        params.append(since.astimezone(UTC).isoformat())
    if until:
        where.append("time < ?")
        params.append(until.astimezone(UTC).isoformat())
    cond = " AND ".join(where)
    groups = {
        (r["kind"], r["hunt"], r["indicator"]): {**r, "hits": int(r["hits"]), "origins": []}
        for r in db.query(
            f"SELECT {_GROUP}, MIN(title) AS title, COUNT(*) AS hits, MIN(time) AS first,"
            f" MAX(time) AS last FROM hunt_hits WHERE {cond} GROUP BY {_GROUP}",
            params,
        )
    }
    for key, column in _LISTED.items():
        values: dict[tuple[str, str, str], list[str]] = {}
        for r in db.query(
            f"SELECT DISTINCT {_GROUP}, {column} AS v FROM hunt_hits WHERE {cond}", params
        ):
            if r["v"]:
                values.setdefault((r["kind"], r["hunt"], r["indicator"]), []).append(r["v"])
        for g_key, g in groups.items():
            found = sorted(values.get(g_key, []))
            g[key] = found[:10] + ([f"+{len(found) - 10} more"] if len(found) > 10 else [])
    for r in db.query(
        f"SELECT {_GROUP}, origin FROM (SELECT {_GROUP}, origin, time, ROW_NUMBER() OVER"
        f" (PARTITION BY {_GROUP} ORDER BY time, origin) AS n FROM hunt_hits WHERE {cond}) t"
        f" WHERE n <= 3 ORDER BY time, origin",
        params,
    ):
        groups[(r["kind"], r["hunt"], r["indicator"])]["origins"].append(r["origin"])
    return sorted(groups.values(), key=lambda g: (g["first"], g["hunt"], g["indicator"]))


def ioc_rows(ws: Workspace) -> list[dict[str, str]]:
    """The rows of `ioc export --table` (confirmed indicators, defanged), read back from the
    very markdown that command prints, so the two never differ."""
    text = to_table(hunt_store.load_indicators(ws.db, confirmed_only=True))
    rows = []
    for line in text.splitlines()[2:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3:
            rows.append(dict(zip(("indicator", "type", "note"), cells, strict=True)))
    return rows


def gather(
    ws: Workspace,
    since: datetime | None = None,
    until: datetime | None = None,
    campaign_names: Sequence[str] = (),
) -> Report:
    report = Report(str(ws.root), datetime.now(UTC), since, until)
    report.campaigns = campaigns(ws, campaign_names)
    report.exposures = exposures(ws)
    report.usage = usage(ws)
    report.hit_groups = hit_groups(ws.db, since, until)
    report.hits = sum(g["hits"] for g in report.hit_groups)
    events = EventStore(ws.events_dir)
    report.has_events = bool(events.files())
    chosen = packs.select([])
    report.hunts = len(chosen)
    con = events.connect()
    try:
        if report.has_events:
            report.coverage = hunt_coverage.coverage(con, chosen, since, until)
        rows = tl.build(ws.db, con, None, None, since)
    finally:
        con.close()
    report.timeline = [r for r in rows if _in_window(r["time"], None, until)]
    report.iocs = ioc_rows(ws)
    return report
