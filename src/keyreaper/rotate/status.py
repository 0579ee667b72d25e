"""What `campaign status` and `campaign show` report: counts, every item not verified dead
with why, and time spent per step."""

from __future__ import annotations

import json
from typing import Any

from keyreaper.rotate.journal import Journal


def _why(r: dict[str, Any]) -> str:
    state = r["state"]
    if state == "blocked":
        return str(r["reason"])
    if state == "excepted":
        return f"excepted until {r['exc_expires']} by {r['exc_approver']}: {r['exc_reason']}"
    if state == "needs_manual":
        return f"needs a person after {r['attempts']} attempt(s) at {r['step']}: {r['last_error']}"
    if state == "reopened":
        return f"CRITICAL {r['last_error']}"
    if r["attempts"]:
        return f"retrying {r['step']} (attempt {r['attempts']}, next {r['next_at']}): {r['last_error']}"
    if r["step"] == "verify_dead":
        return f"verifying: {r['dead_probes']} refusal(s) so far"
    return f"waiting at {r['step']}" if r["started_at"] else "not started"


def items(journal: Journal) -> list[dict[str, Any]]:
    with journal.lock:
        rows = journal.db.query(
            "SELECT i.*, e.reason AS exc_reason, e.approver AS exc_approver, e.expires AS exc_expires"
            " FROM campaign_items i LEFT JOIN campaign_exceptions e ON e.campaign = i.campaign"
            " AND e.credential_id = i.credential_id AND e.ended_at = ''"
            " WHERE i.campaign = ? ORDER BY i.credential_id",
            (journal.campaign,),
        )
    return rows


def plan_rows(journal: Journal) -> list[dict[str, Any]]:
    return [
        {
            "item": r["credential_id"],
            "provider": r["provider"],
            "kind": r["kind"],
            "action": r["action"],
            "usage": r["usage"],
            "exposures": json.loads(r["exposures"]),
            "step": r["step"],
            "state": r["state"],
            "reason": r["reason"],
        }
        for r in items(journal)
    ]


def step_times(journal: Journal) -> list[dict[str, Any]]:
    with journal.lock:
        rows = journal.db.query(
            "SELECT step, COUNT(*) AS items, SUM(runs) AS runs, SUM(seconds) AS seconds,"
            " MAX(seconds) AS max_seconds FROM campaign_step_times WHERE campaign = ? GROUP BY step",
            (journal.campaign,),
        )
    order = {s: i for i, s in enumerate(("preflight", "create", "deliver", "test_new", "revoke_old",
                                           "revoke_sessions", "verify_dead", "watch"))}  # fmt: skip
    out = [
        {
            "step": r["step"],
            "items": int(r["items"]),
            "runs": int(r["runs"]),
            "total_seconds": round(float(r["seconds"]), 3),
            "mean_seconds": round(float(r["seconds"]) / max(int(r["items"]), 1), 3),
            "max_seconds": round(float(r["max_seconds"]), 3),
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: order.get(r["step"], 99))


def status(journal: Journal) -> dict[str, Any]:
    rows = items(journal)
    open_items = [
        {
            "item": r["credential_id"],
            "provider": r["provider"],
            "action": r["action"],
            "step": r["step"],
            "state": r["state"],
            "severity": r["severity"],
            "attempts": int(r["attempts"]),
            "why": _why(r),
        }
        for r in rows
        if r["state"] != "dead" or r["severity"] == "critical"
    ]
    return {
        "campaign": journal.campaign,
        "counts": journal.counts(),
        "critical": sum(1 for r in rows if r["severity"] == "critical"),
        "not_dead": open_items,
        "step_times": step_times(journal),
    }
