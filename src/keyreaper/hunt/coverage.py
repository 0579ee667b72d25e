"""Coverage: for each hunt and source, the event types it needs and whether the store holds
them over the window. A hunt that cannot see is reported as loudly as a hit (Okta missed
file downloads for 14 days because they were logged under another event type)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from keyreaper.hunt.packs import Pack
from keyreaper.hunt.scope import time_window


def _counts(
    con: duckdb.DuckDBPyConnection, since: datetime | None, until: datetime | None
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    where, params = time_window(since, until)
    rows = con.execute(
        f"SELECT source, event_type, count(*) FROM events WHERE {' AND '.join(['true', *where])} GROUP BY ALL",
        params,
    ).fetchall()
    by_type = {(s, t): int(n) for s, t, n in rows}
    by_source: dict[str, int] = {}
    for (s, _), n in by_type.items():
        by_source[s] = by_source.get(s, 0) + n
    return by_type, by_source


def coverage(
    con: duckdb.DuckDBPyConnection,
    packs: Sequence[Pack],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per (hunt, source, event type): events seen and a status, gaps first."""
    by_type, by_source = _counts(con, since, until)
    lowered = {(s, t.lower()): n for (s, t), n in by_type.items()}
    rows = []
    for pack in packs:
        for source, etype in pack.needs:
            if etype == "*":
                n = by_source.get(source, 0)
            else:
                n = lowered.get((source, etype.lower()), 0)
            if not by_source.get(source):
                status = "GAP: no events from this source"
            elif not n:
                status = "GAP: source present, this event type never seen"
            else:
                status = "ok"
            rows.append(
                {
                    "hunt": pack.id,
                    "source": source,
                    "event_type": etype,
                    "events": n,
                    "status": status,
                }
            )
    # A hunt is blind only if none of its sources has what it needs.
    blind = {p.id for p in packs if not any(r["events"] for r in rows if r["hunt"] == p.id)}
    for r in rows:
        r["hunt_blind"] = r["hunt"] in blind
    return sorted(rows, key=lambda r: (r["status"] == "ok", r["hunt"], r["source"]))
