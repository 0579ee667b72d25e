"""What the ingested logs can show: per source, the time range covered, events per event
type, and gaps (whole UTC days with no event inside the range).

A verdict of NOT_SEEN is only as good as this: a credential is "not seen" over a window only
when every source that could show its use covers the whole window without a gap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from keyreaper.events.store import EventStore


@dataclass(frozen=True)
class Gap:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class SourceCoverage:
    source: str
    first: datetime
    last: datetime
    events: int
    event_types: dict[str, int] = field(default_factory=dict)
    gaps: tuple[Gap, ...] = ()

    def gaps_within(self, start: date, end: date) -> list[str]:
        """Why this source cannot vouch for [start, end]: missing edges and empty days."""
        problems: list[str] = []
        if self.first.date() > start:
            problems.append(
                f"{self.source}: no events before {self.first.date().isoformat()} "
                f"(window starts {start.isoformat()})"
            )
        if self.last.date() < end:
            problems.append(
                f"{self.source}: no events after {self.last.date().isoformat()} "
                f"(window ends {end.isoformat()})"
            )
        for gap in self.gaps:
            if gap.end >= start and gap.start <= end:
                problems.append(f"{self.source}: no events on {gap}")
        return problems


def _gaps(days: list[date]) -> tuple[Gap, ...]:
    out: list[Gap] = []
    for before, after in itertools.pairwise(days):
        if (after - before).days > 1:
            out.append(Gap(before + timedelta(days=1), after - timedelta(days=1)))
    return tuple(out)


def coverage(store: EventStore) -> dict[str, SourceCoverage]:
    con = store.connect()
    try:
        ranges = con.execute(
            "SELECT source, min(time), max(time), count(*) FROM events GROUP BY source"
        ).fetchall()
        types: dict[str, dict[str, int]] = {}
        for source, event_type, n in con.execute(
            "SELECT source, event_type, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 3 DESC"
        ).fetchall():
            types.setdefault(source, {})[event_type] = int(n)
        days: dict[str, list[date]] = {}
        for source, day in con.execute(
            "SELECT DISTINCT source, CAST(time AS DATE) FROM events ORDER BY 1, 2"
        ).fetchall():
            days.setdefault(source, []).append(day)
    finally:
        con.close()
    return {
        source: SourceCoverage(
            source=source,
            first=first,
            last=last,
            events=int(n),
            event_types=types.get(source, {}),
            gaps=_gaps(days.get(source, [])),
        )
        for source, first, last, n in sorted(ranges)
    }
