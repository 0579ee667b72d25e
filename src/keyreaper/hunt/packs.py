"""Built-in hunt packs, shipped as data in hunt/packs/: Sigma rules (*.yml) and documented
DuckDB queries (*.sql, a header of `-- key: value` lines, then one SELECT over `events`).

A query selects the hit columns (time, source, event_type, outcome, actor_id, actor_name,
credential_id, src_ip, target_name, origin, why). It reads all events, so baselines ("new
for this actor") look before the window; only its hits are cut to the window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import duckdb

from keyreaper.hunt.results import Note, RuleResult
from keyreaper.hunt.scope import time_window
from keyreaper.hunt.store import Hit

PACK_DIR = Path(__file__).parent / "packs"


@dataclass(frozen=True)
class Pack:
    id: str
    title: str
    kind: str  # sigma | sql
    path: Path
    description: str
    needs: tuple[tuple[str, str], ...]  # (source, event type or "*")


def _needs(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        source, _, etype = item.partition(":")
        out.append((source.strip(), etype.strip() or "*"))
    return tuple(out)


def _sql_header(path: Path) -> dict[str, str]:
    head: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("-- "):
            break
        key, _, value = line[3:].partition(":")
        head[key.strip()] = value.strip()
    return head


def builtin() -> list[Pack]:
    import yaml

    packs = []
    for path in sorted(PACK_DIR.iterdir()):
        if path.suffix == ".sql":
            h = _sql_header(path)
            packs.append(
                Pack(
                    path.stem,
                    h.get("title", path.stem),
                    "sql",
                    path,
                    h.get("description", ""),
                    _needs([x for x in h.get("needs", "").split(",") if x.strip()]),
                )
            )
        elif path.suffix == ".yml":
            docs = list(yaml.safe_load_all(path.read_text()))
            top = docs[-1] if "correlation" in docs[-1] else docs[0]
            packs.append(
                Pack(
                    str(top.get("name", path.stem)),
                    str(top["title"]),
                    "sigma",
                    path,
                    str(top.get("description", "")),
                    _needs(docs[0].get("keyreaper-needs", [])),
                )
            )
    return packs


def select(names: Sequence[str]) -> list[Pack]:
    packs = builtin()
    if not names:
        return packs
    known = {p.id: p for p in packs}
    missing = [n for n in names if n not in known]
    if missing:
        from keyreaper.errors import KeyreaperError

        raise KeyreaperError(
            f"unknown hunt pack(s): {', '.join(missing)} (see keyreaper hunt packs)"
        )
    return [known[n] for n in names]


def run_sql(
    con: duckdb.DuckDBPyConnection,
    pack: Pack,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RuleResult:
    query = "\n".join(
        line for line in pack.path.read_text().splitlines() if not line.startswith("-- ")
    )
    res = RuleResult(pack.id, pack.title, "query", tuple(sorted({s for s, _ in pack.needs})))
    where, params = time_window(since, until)
    sql = f"SELECT * FROM ({query}) AS q" + (" WHERE " + " AND ".join(where) if where else "")
    try:
        rows = con.execute(sql + " ORDER BY time", params).fetchall()
    except duckdb.Error as exc:
        res.error = str(exc).splitlines()[0]
        return res
    for r in rows:
        origin, why = r[9], r[10]
        res.hits.append(Hit.from_event("pack", pack.id, pack.title, r, origin, {"why": why or ""}))
    return res


def run(
    con: duckdb.DuckDBPyConnection,
    packs: Sequence[Pack],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[RuleResult]:
    from keyreaper.hunt import sigma_run  # pySigma is imported only when a Sigma pack runs

    results: list[RuleResult] = []
    for pack in packs:
        if pack.kind == "sql":
            results.append(run_sql(con, pack, since, until))
            continue
        collection = sigma_run.load([pack.path])
        for r in sigma_run.run_collection(con, collection, since, until, kind="pack"):
            r.hits = [_mark_service_account(h) for h in r.hits]
            # keyreaper-product rules run over every source; a source without events is no gap
            r.notes = [n for n in r.notes if not n.reason.startswith("(no events")]
            r.notes = _fold(r.notes)
            results.append(r)
    return results


SERVICE_ACCOUNT = re.compile(
    r"(^|[-_.@ ])(svc|service|srv|sa|bot|integration|automation|api)([-_.@ ]|$)", re.I
)


def _mark_service_account(h: Hit) -> Hit:
    """Flag hits whose target (the grantee) or actor is named like a service account: the
    alert that caught the 2023 intrusion was exactly 'service account added to admin group'."""
    names = [n for n in (h.target, h.actor) if n]
    flagged = [part for n in names for part in n.split(", ") if SERVICE_ACCOUNT.search(part)]
    if not flagged:
        return h
    return replace(h, detail={**h.detail, "service_account": flagged[0]})


def _fold(notes: list[Note]) -> list[Note]:
    """A field missing from one of several sources is expected in cross-source packs: keep a
    note only when the field is missing from every source the rule ran on."""
    by_reason: dict[str, list[Note]] = {}
    for n in notes:
        by_reason.setdefault(n.reason.split(" never present")[0], []).append(n)
    sources = {n.source for n in notes}
    return [ns[0] for ns in by_reason.values() if len({n.source for n in ns}) == len(sources)]
