"""Run Sigma rules, and Sigma correlation rules, over the event store.

A rule runs once per source its logsource names. Before it runs, the fields it names are
looked up in that source's events over the window: a field that never appears there makes a
coverage note (the rule cannot see what it looks for), and the rule still runs without error.
Correlations (event_count, value_count, temporal) count matches of their base rules per
group-by value inside a sliding window of the rule's timespan; temporal_ordered looks for the
base rules' matches in the listed order within the timespan.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from keyreaper.errors import InputError, Location
from keyreaper.extras import require
from keyreaper.hunt.results import Note, RuleResult
from keyreaper.hunt.scope import time_window
from keyreaper.hunt.sigma_sql import (
    MACROS,
    Compiled,
    Unsupported,
    compile_rule,
    resolve,
    sources_for,
)
from keyreaper.hunt.store import EVENT_HIT_COLUMNS, Hit

_COLS = EVENT_HIT_COLUMNS + ", origin"


def load(paths: Sequence[Path], problems: list[str] | None = None) -> Any:
    """A SigmaCollection of every .yml/.yaml under the paths, references resolved. A file
    that is not valid YAML or Sigma is skipped and named in `problems` (file:line: reason),
    or raised as InputError when no list is given."""
    require("sigma", "hunt")
    import yaml
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(x for x in p.rglob("*") if x.suffix in (".yml", ".yaml"))
        elif p.exists():
            files.append(p)
        else:
            raise InputError(Location(str(p)), "no such file or folder")
    parts = []
    for f in files:
        try:
            parts.append(SigmaCollection.load_ruleset([f], collect_errors=True))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            err = InputError(Location(str(f), mark.line + 1 if mark else None), f"not YAML: {exc}")
            if problems is None:
                raise err from exc
            problems.append(str(err))
        except SigmaError as exc:
            err = InputError(Location(str(f)), str(exc))
            if problems is None:
                raise err from exc
            problems.append(str(err))
    collection = SigmaCollection.merge(parts) if parts else SigmaCollection([])
    try:
        collection.resolve_rule_references()
    except SigmaError as exc:
        raise InputError(Location(str(files[0]) if files else "-"), str(exc)) from exc
    return collection


def _window(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    conditions, params = time_window(since, until)
    return "".join(f" AND {c}" for c in conditions), params


def _name(rule: Any) -> str:
    return str(getattr(rule, "name", None) or rule.id or rule.title)


def _missing_fields(
    con: duckdb.DuckDBPyConnection, source: str, comp: Compiled, win: tuple[str, list[Any]]
) -> list[str]:
    if not comp.fields:
        return []
    names = list(comp.fields)
    aggs = ", ".join(f"count(*) FILTER (WHERE {comp.fields[n].presence})" for n in names)
    row = con.execute(
        f"SELECT count(*), {aggs} FROM events WHERE source = ?{win[0]}", [source, *win[1]]
    ).fetchone()
    if not row or not row[0]:
        return ["(no events from this source in the window)"]
    return [n for n, c in zip(names, row[1:], strict=True) if not c]


def run_rule(
    con: duckdb.DuckDBPyConnection,
    rule: Any,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str = "sigma",
) -> RuleResult:
    for macro in MACROS:
        con.execute(macro)
    res = RuleResult(_name(rule), rule.title, "rule", sources_for(rule))
    if rule.errors:
        res.error = "; ".join(str(e) for e in rule.errors)
        return res
    if not res.sources:
        ls = rule.logsource
        res.notes.append(
            Note(
                res.rule_id,
                "",
                f"no event source for logsource {ls.product}/{ls.service}/{ls.category}",
            )
        )
        return res
    win = _window(since, until)
    for source in res.sources:
        try:
            comp = compile_rule(rule, source)
        except Unsupported as exc:
            res.error = f"cannot compile: {exc}"
            return res
        res.sql[source] = comp.where
        missing = _missing_fields(con, source, comp, win)
        for f in missing:
            reason = f if f.startswith("(") else f"field {f!r} never present in {source} events"
            res.notes.append(Note(res.rule_id, source, reason))
        try:
            rows = con.execute(
                f"SELECT {_COLS} FROM events WHERE source = ?{win[0]} AND ({comp.where})"
                " ORDER BY time",
                [source, *win[1]],
            ).fetchall()
        except duckdb.Error as exc:
            res.error = f"{source}: {str(exc).splitlines()[0]}"
            return res
        res.hits += [_hit(kind, rule, r) for r in rows]
    return res


def _hit(kind: str, rule: Any, r: tuple[Any, ...], detail: dict[str, Any] | None = None) -> Hit:
    detail = detail or {"level": str(rule.level or "")}
    return Hit.from_event(kind, _name(rule), rule.title, r, r[9], detail)


def run_correlation(
    con: duckdb.DuckDBPyConnection,
    corr: Any,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str = "sigma",
) -> RuleResult:
    """Sliding windows of the timespan, per group, over the base rules' matches."""
    for macro in MACROS:
        con.execute(macro)
    ctype = str(corr.type.name).lower()
    res = RuleResult(_name(corr), corr.title, "correlation", ())
    win = _window(since, until)
    parts, params = [], []
    aliases = {a.alias: {r.reference: f for r, f in a.mapping.items()} for a in corr.aliases}
    cond_field = getattr(corr.condition, "fieldref", None)
    for ref in corr.rules or []:
        base = ref.rule
        for source in sources_for(base):
            try:
                comp = compile_rule(base, source)
            except Unsupported as exc:
                res.error = f"cannot compile {ref.reference}: {exc}"
                return res
            groups: list[str] = []
            for g in corr.group_by or []:
                fname = aliases.get(g, {}).get(ref.reference, g)
                groups.append(resolve(source, fname).sql + f" AS g_{len(groups)}")
            value = resolve(source, cond_field).sql if isinstance(cond_field, str) else "NULL"
            select = ", ".join([_COLS, f"'{ref.reference}' AS rule", f"{value} AS v", *groups])
            parts.append(f"SELECT {select} FROM events WHERE source = ?{win[0]} AND ({comp.where})")
            params += [source, *win[1]]
            res.sources += (source,)
    if not parts:
        res.notes.append(Note(res.rule_id, "", "no base rule has an event source"))
        return res
    ngroups = len(corr.group_by or [])
    part = ", ".join(f"g_{i}" for i in range(ngroups)) or "1"
    frame = f"PARTITION BY {part} ORDER BY time RANGE BETWEEN CURRENT ROW AND INTERVAL {int(corr.timespan.seconds)} SECOND FOLLOWING"
    measure = {
        "event_count": "count(*)",
        "value_count": "count(DISTINCT v)",
    }.get(ctype, "count(DISTINCT rule)")
    sql = (
        f"WITH base AS ({' UNION ALL '.join(parts)}) SELECT *, {measure} OVER ({frame}) AS n,"
        f" max(time) OVER ({frame}) AS last FROM base ORDER BY {part}, time"
    )
    try:
        rows = con.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        res.error = str(exc).splitlines()[0]
        return res
    res.sql["correlation"] = sql
    need = len(corr.rules or [])
    if ctype == "temporal_ordered":
        sequence = [ref.reference for ref in corr.rules or []]
        span = timedelta(seconds=int(corr.timespan.seconds))
        for chain in ordered_chains(rows, sequence, ngroups, span):
            first, end = chain[0], chain[-1]
            detail = {"count": len(chain), "window_end": end[0].astimezone(UTC).isoformat(),
                      "group": dict(zip(corr.group_by or [], first[12 : 12 + ngroups], strict=True)),
                      "type": ctype, "sequence": [r[9] for r in chain]}  # fmt: skip
            res.hits.append(_hit(kind, corr, tuple(first[:10]), detail))
        return res
    last_end: dict[tuple[Any, ...], datetime] = {}
    for r in rows:
        n, last, g = r[-2], r[-1], tuple(r[12 : 12 + ngroups])
        ok = n == need if ctype.startswith("temporal") else _holds(corr.condition, n)
        if not ok or (g in last_end and r[0] <= last_end[g]):
            continue
        last_end[g] = last
        detail = {"count": int(n), "window_end": last.astimezone(UTC).isoformat(),
                  "group": dict(zip(corr.group_by or [], g, strict=True)), "type": ctype}  # fmt: skip
        res.hits.append(_hit(kind, corr, tuple(r[:10]), detail))
    return res


def ordered_chains(
    rows: Sequence[tuple[Any, ...]], sequence: Sequence[str], ngroups: int, span: timedelta
) -> list[list[tuple[Any, ...]]]:
    """temporal_ordered: per group, chains of one match of each base rule in the listed order
    (each no earlier than the one before; equal times count as in order, as logs with
    second resolution often have them), the last within `span` of the first. A chain starts
    at each match of the first rule after the previous chain's end; the next link is the
    earliest fitting match, which leaves the most room for the links after it. Rows are
    (time, ..., origin at 9, rule at 10, value, group values from 12...)."""
    groups: dict[tuple[Any, ...], dict[str, list[tuple[Any, ...]]]] = {}
    for r in sorted(rows, key=lambda r: r[0]):
        by_rule = groups.setdefault(tuple(r[12 : 12 + ngroups]), {})
        by_rule.setdefault(r[10], []).append(r)
    chains = []
    for by_rule in groups.values():
        times = {rule: [r[0] for r in rs] for rule, rs in by_rule.items()}
        end: datetime | None = None
        for start in by_rule.get(sequence[0], []):
            if end is not None and start[0] <= end:
                continue
            chain, used = [start], {id(start)}
            for rule in sequence[1:]:
                cands = by_rule.get(rule, [])
                j = bisect.bisect_left(times.get(rule, []), chain[-1][0])
                while j < len(cands) and id(cands[j]) in used:
                    j += 1  # a rule listed twice needs two different matches
                if j == len(cands) or cands[j][0] - start[0] > span:
                    break
                chain.append(cands[j])
                used.add(id(cands[j]))
            else:
                chains.append(chain)
                end = chain[-1][0]
    return chains


def _holds(cond: Any, n: int) -> bool:
    op, c = cond.op.name, cond.count
    return bool(
        {"LT": n < c, "LTE": n <= c, "GT": n > c, "GTE": n >= c, "EQ": n == c, "NEQ": n != c}[op]
    )


def run_collection(
    con: duckdb.DuckDBPyConnection,
    collection: Any,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str = "sigma",
) -> list[RuleResult]:
    """Every rule and correlation; base rules of a correlation that ask not to be reported
    alone (generate: false is the default in Sigma) are run only inside it."""
    from sigma.correlations import SigmaCorrelationRule

    corrs = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    hidden = {id(ref.rule) for c in corrs if not c.generate for ref in c.rules or []}
    results = []
    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            results.append(run_correlation(con, rule, since, until, kind))
        elif id(rule) not in hidden:
            results.append(run_rule(con, rule, since, until, kind))
    return results
