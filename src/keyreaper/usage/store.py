"""Save and read attestations. Each computation is kept; the newest one is current."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from keyreaper.domain import Attestation, UsageVerdict
from keyreaper.store import Database, Row


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def severity(a: Attestation) -> str:
    """critical when a flag says so, warning for other flags, else empty."""
    if any(f.startswith("critical:") for f in a.flags):
        return "critical"
    return "warning" if a.flags else ""


def save(db: Database, attestations: Sequence[Attestation]) -> None:
    rows = [
        (
            uuid.uuid4().hex,
            a.credential_id,
            a.verdict.value,
            a.window_start.isoformat(),
            a.window_end.isoformat(),
            a.computed_at.isoformat(),
            a.first_use.isoformat() if a.first_use else None,
            a.last_use.isoformat() if a.last_use else None,
            a.use_count,
            json.dumps(list(a.distinct_ips)),
            json.dumps(list(a.distinct_asns)),
            json.dumps(list(a.distinct_user_agents)),
            a.last_evidence,
            json.dumps(list(a.sources_searched)),
            json.dumps(list(a.gaps)),
            json.dumps(list(a.flags)),
            severity(a),
        )
        for a in attestations
    ]
    with db.transaction():
        db.executemany(
            "INSERT INTO attestations (id, credential_id, verdict, window_start, window_end,"
            " computed_at, first_use, last_use, use_count, distinct_ips, distinct_asns,"
            " distinct_user_agents, last_evidence, sources_searched, gaps, flags, severity)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def _from_row(r: Row) -> Attestation:
    start = _dt(r["window_start"])
    end = _dt(r["window_end"])
    computed = _dt(r["computed_at"])
    assert start and end and computed
    return Attestation(
        credential_id=r["credential_id"],
        verdict=UsageVerdict(r["verdict"]),
        window_start=start,
        window_end=end,
        computed_at=computed,
        first_use=_dt(r["first_use"]),
        last_use=_dt(r["last_use"]),
        use_count=int(r["use_count"]),
        distinct_ips=tuple(json.loads(r["distinct_ips"])),
        distinct_asns=tuple(json.loads(r["distinct_asns"])),
        distinct_user_agents=tuple(json.loads(r["distinct_user_agents"])),
        last_evidence=r["last_evidence"],
        sources_searched=tuple(json.loads(r["sources_searched"])),
        gaps=tuple(json.loads(r["gaps"])),
        flags=tuple(json.loads(r["flags"])),
    )


def latest(db: Database, credential_id: str) -> Attestation | None:
    rows = db.query(
        "SELECT * FROM attestations WHERE credential_id = ? ORDER BY computed_at DESC LIMIT 1",
        (credential_id,),
    )
    return _from_row(rows[0]) if rows else None


def latest_all(db: Database) -> dict[str, Attestation]:
    """The newest attestation of every credential that has one."""
    out: dict[str, Attestation] = {}
    for r in db.query("SELECT * FROM attestations ORDER BY computed_at"):
        out[r["credential_id"]] = _from_row(r)
    return out
