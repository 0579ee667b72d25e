"""One hunt run over the workspace: indicators, built-in packs and Sigma rules; hits saved."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from keyreaper.errors import KeyreaperError
from keyreaper.hunt import store
from keyreaper.hunt.results import Note, RuleResult
from keyreaper.hunt.scope import event_files
from keyreaper.hunt.store import Hit
from keyreaper.inventory import repo

if TYPE_CHECKING:
    import duckdb

    from keyreaper.workspace import Workspace


def connect(ws: Workspace) -> duckdb.DuckDBPyConnection:
    """The event store's DuckDB connection, quiet: a progress bar on stdout would corrupt
    --json output of long hunts."""
    from keyreaper.events.store import EventStore  # imports pyarrow: only when the view is used

    con = EventStore(ws.events_dir).connect()
    con.execute("SET enable_progress_bar = false")
    return con


def _bare() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def parse_time(text: str | None) -> datetime | None:
    """ISO date/time (UTC if no zone) or a look-back such as 30d, 12h, 2w."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+)([hdw])", text.strip())
    if m:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(m.group(1))})
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise KeyreaperError(
            f"not a time: {text!r} (use 2023-11-14, 2023-11-14T10:00Z or 30d)"
        ) from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class Outcome:
    hits: list[Hit] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    results: list[RuleResult] = field(default_factory=list)


def hunt(
    ws: Workspace,
    since: datetime | None = None,
    until: datetime | None = None,
    sigma: Sequence[Path] = (),
    pack_names: Sequence[str] = (),
    use_iocs: bool = True,
    use_packs: bool = True,
) -> Outcome:
    # Indicators read the token indexes (DuckDB only to build a missing one): no `events`
    # view needed (building it reads every file's footer), often no DuckDB at all.
    con = connect(ws) if use_packs or sigma else None
    result = Outcome()
    ids = repo.identifier_map(ws.db)
    try:
        if use_iocs:
            indicators = store.load_indicators(ws.db)
            if indicators:
                from keyreaper.hunt import ioc_match

                result.hits += ioc_match.hunt(
                    con, event_files(ws.events_dir), ws.root / "hunt_index", indicators, since, until,
                    ids,
                )  # fmt: skip
        if use_packs and con is not None:
            from keyreaper.hunt import packs

            result.results += packs.run(con, packs.select(pack_names), since, until)
        if sigma and con is not None:
            from keyreaper.hunt import sigma_run

            problems: list[str] = []
            collection = sigma_run.load(sigma, problems)
            result.errors += [("sigma", p) for p in problems]
            result.results += sigma_run.run_collection(con, collection, since, until)
    finally:
        if con is not None:
            con.close()
    for r in result.results:
        result.hits += r.hits
        result.notes += r.notes
        if r.error:
            result.errors.append((r.rule_id, r.error))
    result.hits = [_link(h, ids) for h in result.hits]
    store.save_hits(ws.db, result.hits)
    result.hits.sort(key=lambda h: (h.time, h.kind, h.hunt))
    return result


def _link(h: Hit, ids: dict[str, list[str]]) -> Hit:
    """Name the inventory credential behind the hit when its key id or actor is known."""
    if h.inventory_id:
        return h
    for key in (h.credential, h.actor):
        if key and key in ids:
            from dataclasses import replace

            return replace(h, inventory_id=ids[key][0])
    return h
