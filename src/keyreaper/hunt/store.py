"""Indicators and hunt hits in the state store; reading indicator files of any known format."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyreaper.domain.model import Indicator
from keyreaper.errors import InputError, Location
from keyreaper.store.db import Database, Row

FORMATS = ("auto", "stix", "misp", "csv", "text")


def detect_format(path: Path, head: str) -> str:
    if path.suffix.lower() == ".csv":
        return "csv"
    text = head.lstrip()
    if text.startswith(("{", "[")):
        if '"type"' in head and ("bundle" in head or "indicator" in head):
            return "stix"
        return "misp"
    return "text"


def read_file(path: Path, fmt: str = "auto") -> tuple[list[Indicator], list[str]]:
    """Indicators of one file and the problems met (each naming file and place)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Location(str(path)), f"cannot read: {exc.strerror}") from exc
    # the parsers (and their compiled patterns) load only for an import, not for every hunt
    from keyreaper.hunt.indicators import parse_csv, parse_text
    from keyreaper.hunt.ioc_formats import parse_misp, parse_stix

    text = data.decode("utf-8", errors="replace")
    fmt = detect_format(path, text[:4096]) if fmt == "auto" else fmt
    source = path.name
    problems: list[str] = []
    try:
        if fmt == "stix":
            return list(parse_stix(text, source)), problems
        if fmt == "misp":
            return list(parse_misp(text, source)), problems
        if fmt == "csv":
            out: list[Indicator] = []
            for line, item in parse_csv(text, source):
                if isinstance(item, str):
                    problems.append(f"{Location(str(path), line)}: {item}")
                else:
                    out.append(item)
            return out, problems
        return list(parse_text(text, source)), problems
    except json.JSONDecodeError as exc:
        raise InputError(Location(str(path), exc.lineno, exc.colno), exc.msg) from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # stix2 and MISP shapes raise a variety of these on malformed objects.
        raise InputError(Location(str(path)), f"not valid {fmt}: {exc}") from exc


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


def save_indicators(db: Database, indicators: Iterable[Indicator]) -> int:
    """Upsert by (type, value); a later import refreshes description, source and window."""
    now = datetime.now(UTC).isoformat()
    rows = {
        (i.type, i.value): (
            i.type, i.value, i.source, i.description, _iso(i.valid_from), _iso(i.valid_until), now
        )
        for i in indicators
    }  # fmt: skip
    if rows:
        with db.transaction():
            db.executemany(
                "INSERT INTO indicators (type, value, source, description, valid_from,"
                " valid_until, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (type, value) DO UPDATE SET source = excluded.source,"
                " description = CASE WHEN excluded.description = '' THEN indicators.description"
                " ELSE excluded.description END, valid_from = excluded.valid_from,"
                " valid_until = excluded.valid_until",
                list(rows.values()),
            )
    return len(rows)


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def load_indicators(db: Database, confirmed_only: bool = False) -> list[Indicator]:
    sql = "SELECT type, value, source, description, valid_from, valid_until FROM indicators"
    if confirmed_only:
        sql += (
            " WHERE EXISTS (SELECT 1 FROM hunt_hits h WHERE h.kind = 'ioc'"
            " AND h.indicator_type = indicators.type AND h.indicator = indicators.value)"
        )
    rows = db.values(sql + " ORDER BY type, value")
    return [
        Indicator(kind, value, source, description, _parse_dt(start), _parse_dt(end))
        for kind, value, source, description, start, end in rows
    ]


def hit_counts(db: Database) -> dict[tuple[str, str], int]:
    rows = db.query(
        "SELECT indicator_type, indicator, COUNT(*) AS n FROM hunt_hits WHERE kind = 'ioc'"
        " GROUP BY indicator_type, indicator"
    )
    return {(r["indicator_type"], r["indicator"]): int(r["n"]) for r in rows}


# The event columns a hit carries, in the order Hit.from_event reads them.
EVENT_HIT_COLUMNS = (
    "time, source, event_type, outcome, actor_id, actor_name, credential_id, src_ip, target_name"
)


@dataclass(frozen=True)
class Hit:
    """One event that a hunt matched, with the evidence to find it again."""

    kind: str  # ioc, sigma, pack, sweep
    hunt: str
    time: datetime
    origin: str
    title: str = ""
    indicator_type: str = ""
    indicator: str = ""
    matched_field: str = ""
    source: str = ""
    event_type: str = ""
    outcome: str = ""
    actor: str = ""
    credential: str = ""
    inventory_id: str = ""
    src_ip: str = ""
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def from_event(
        cls,
        kind: str,
        hunt: str,
        title: str,
        event: Sequence[Any],
        origin: str,
        detail: dict[str, Any],
    ) -> Hit:
        """A hit on an event row whose first nine columns are EVENT_HIT_COLUMNS."""
        t, source, etype, outcome, actor_id, actor_name, cred, ip, target = event[:9]
        return cls(
            kind=kind, hunt=hunt, title=title, time=t.astimezone(UTC), origin=origin,
            source=source, event_type=etype or "", outcome=outcome or "",
            actor=actor_name or actor_id or "", credential=cred or "", src_ip=ip or "",
            target=target or "", detail=detail,
        )  # fmt: skip

    @property
    def id(self) -> str:
        key = "\0".join((self.kind, self.hunt, self.indicator, self.origin))
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "hunt": self.hunt, "title": self.title,
            "time": self.time.astimezone(UTC).isoformat(), "source": self.source,
            "event_type": self.event_type, "outcome": self.outcome, "actor": self.actor,
            "credential": self.credential, "inventory_id": self.inventory_id,
            "src_ip": self.src_ip, "target": self.target,
            "indicator_type": self.indicator_type, "indicator": self.indicator,
            "matched_field": self.matched_field, "origin": self.origin, "detail": self.detail,
        }  # fmt: skip


_HIT_COLS = [
    "id",
    "kind",
    "hunt",
    "title",
    "indicator_type",
    "indicator",
    "matched_field",
    "time",
    "source",
    "event_type",
    "outcome",
    "actor",
    "credential",
    "inventory_id",
    "src_ip",
    "target",
    "origin",
    "detail",
    "found_at",
]


# One encoder for every hit's detail: json.dumps(default=...) builds a new one per call.
_DETAIL = json.JSONEncoder(default=str)


def save_hits(db: Database, hits: Sequence[Hit]) -> int:
    now = datetime.now(UTC).isoformat()
    # tuples in _HIT_COLS order, built directly (a dict per hit costs as much as the insert)
    rows = [
        (h.id, h.kind, h.hunt, h.title, h.indicator_type, h.indicator, h.matched_field,
         h.time.astimezone(UTC).isoformat(), h.source, h.event_type, h.outcome, h.actor,
         h.credential, h.inventory_id, h.src_ip, h.target, h.origin, _DETAIL.encode(h.detail),
         now)
        for h in hits
    ]  # fmt: skip
    if rows:
        marks = ", ".join("?" for _ in _HIT_COLS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _HIT_COLS if c != "id")
        with db.transaction():
            db.executemany(
                f"INSERT INTO hunt_hits ({', '.join(_HIT_COLS)}) VALUES ({marks})"
                f" ON CONFLICT (id) DO UPDATE SET {updates}",
                rows,
            )
    return len(rows)


def load_hits(db: Database, kinds: Sequence[str] = (), since: datetime | None = None) -> list[Row]:
    sql, params = "SELECT * FROM hunt_hits WHERE 1 = 1", list[Any]()
    if kinds:
        sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params.extend(kinds)
    if since:
        sql += " AND time >= ?"
        params.append(since.astimezone(UTC).isoformat())
    rows = db.query(sql + " ORDER BY time, hunt", params)
    for r in rows:
        r["detail"] = json.loads(r["detail"] or "{}")
    return rows
