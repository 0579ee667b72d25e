"""Durable item state: every transition is one IMMEDIATE transaction that appends the audit
line and updates the item, so the journal and the state never disagree. If the journal line
cannot be written the transaction fails and the caller does not act."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from keyreaper.rotate.commit import GroupCommit
from keyreaper.store import Database, Row
from keyreaper.store.audit import Line, current_actor

# States an item can be in. Active ones are picked up by the runner when next_at is due.
ACTIVE = ("pending", "reopened")
TERMINAL = ("dead", "excepted", "blocked", "needs_manual")
CRASH_ENV = "KEYREAPER_CRASH_AT"

_COLUMNS = {
    "step", "state", "severity", "attempts", "next_at", "last_error", "old_fingerprint",
    "new_identifier", "new_fingerprint", "receipt", "create_begun", "dead_probes",
    "sessions_revoked", "revoked_at", "watch_since", "started_at", "step_started_at",
    "finished_at", "action", "reason",
}  # fmt: skip


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime | None = None) -> str:
    return (t or now()).isoformat()


class CrashPoints:
    """Test hook: KEYREAPER_CRASH_AT=name[#n] SIGKILLs this process the n-th time `name`
    is reached. Names: before:<step>, after-call:<step>, after-batch:<step> (a batched call
    answered, no outcome line written yet), create:sealed."""

    def __init__(self, spec: str | None = None) -> None:
        spec = os.environ.get(CRASH_ENV, "") if spec is None else spec
        name, _, nth = spec.partition("#")
        self.name = name
        self.left = int(nth or 1)
        self._lock = threading.Lock()

    def hit(self, name: str) -> None:
        if not self.name or name != self.name:
            return
        with self._lock:
            self.left -= 1
            if self.left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)


class Journal:
    """Reads and transitions the items of one campaign under one lock (the store's
    connection is shared by the runner's threads)."""

    def __init__(self, db: Database, campaign: str, lock: threading.RLock | None = None) -> None:
        self.db = db
        self.campaign = campaign
        self.lock = lock or threading.RLock()
        self.commits = GroupCommit(db, self.lock)
        self.actor = current_actor()  # once: a lookup per journal line showed in profiles

    def item(self, credential_id: str) -> Row:
        with self.lock:
            rows = self.db.query(
                "SELECT * FROM campaign_items WHERE campaign = ? AND credential_id = ?",
                (self.campaign, credential_id),
            )
        if not rows:
            raise KeyError(credential_id)
        return rows[0]

    def transition(
        self,
        item: Row,
        what: str,
        *,
        outcome: str,
        fingerprint: str = "",
        detail: str = "",
        also: Callable[[], None] | None = None,
        step_done: str | None = None,
        then: str | None = None,
        notes: Sequence[tuple[str, str, str, str]] = (),
        **columns: Any,
    ) -> None:
        """Append the journal line and apply the item's new columns atomically. `notes`
        (step, outcome, fingerprint, detail) are further lines of steps that ran no target
        call of their own; `then` appends the intent line of the next step last. Both save
        those steps a transaction of their own."""
        unknown = set(columns) - _COLUMNS
        if unknown:
            raise ValueError(f"unknown item columns {sorted(unknown)}")
        stamp = iso()
        subject = f"{self.campaign}/{item['credential_id']}"
        lines: list[Line] = [
            (stamp, self.actor, f"campaign.{what}", subject, fingerprint, outcome, detail)
        ]
        lines += [
            (stamp, self.actor, f"campaign.{step}", subject, fp, out, det)
            for step, out, fp, det in notes
        ]
        if then is not None:
            lines.append((stamp, self.actor, f"campaign.{then}", subject, "", "begin", ""))
            columns["step_started_at"] = stamp
        seconds = None
        if step_done and item.get("step_started_at"):
            seconds = (now() - datetime.fromisoformat(item["step_started_at"])).total_seconds()
        sets = ", ".join(f"{k} = ?" for k in columns)
        update = (
            f"UPDATE campaign_items SET {sets}{', ' if sets else ''}updated_at = ?"
            " WHERE campaign = ? AND credential_id = ?"
        )
        values = (*columns.values(), stamp, self.campaign, item["credential_id"])

        def write() -> None:
            if seconds is not None:
                self.db.execute(
                    "INSERT INTO campaign_step_times (campaign, credential_id, step, seconds, runs)"
                    " VALUES (?, ?, ?, ?, 1) ON CONFLICT (campaign, credential_id, step) DO UPDATE"
                    " SET seconds = campaign_step_times.seconds + excluded.seconds,"
                    " runs = campaign_step_times.runs + 1",
                    (self.campaign, item["credential_id"], step_done, max(seconds, 0.0)),
                )
            if also is not None:
                also()
            self.db.execute(update, values)

        self.commits.run(write, lines)
        item.update(columns)
        item["updated_at"] = stamp

    def due(self, exclude: set[str], limit: int = 1000, provider: str | None = None,
            others: tuple[str, ...] = ()) -> list[Row]:  # fmt: skip
        """Items due now, oldest first: of one provider, or (provider None) of any provider
        not in `others`. Each state is read along the index, so no sort of the whole set."""
        rows: list[Row] = []
        where = (
            "provider = ?"
            if provider is not None
            else "provider NOT IN ({})".format(", ".join("?" for _ in others) or "''")
        )
        params: tuple[str, ...] = (provider,) if provider is not None else others
        with self.lock:
            for state in ("reopened", "pending"):
                rows += self.db.query(
                    f"SELECT credential_id, provider FROM campaign_items WHERE campaign = ? AND {where}"
                    " AND state = ? AND next_at <= ? ORDER BY next_at LIMIT ?",
                    (self.campaign, *params, state, iso(), limit + len(exclude)),
                )
        return [r for r in rows if r["credential_id"] not in exclude][:limit]

    def next_wake(self) -> datetime | None:
        with self.lock:
            rows = self.db.query(
                "SELECT MIN(next_at) AS t FROM campaign_items WHERE campaign = ?"
                " AND state IN ('pending', 'reopened')",
                (self.campaign,),
            )
        t = rows[0]["t"] if rows else None
        return datetime.fromisoformat(t) if t else None

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self.db.query(
                "SELECT state, step, attempts, COUNT(*) AS n FROM campaign_items"
                " WHERE campaign = ? GROUP BY state, step, attempts",
                (self.campaign,),
            )
        out = {"dead": 0, "rotated": 0, "failing": 0, "needs_manual": 0, "blocked": 0,
               "excepted": 0, "remaining": 0, "total": 0}  # fmt: skip
        for r in rows:
            n = int(r["n"])
            out["total"] += n
            state = r["state"]
            if state in ("dead", "needs_manual", "blocked", "excepted"):
                out[state] += n
            elif r["step"] in ("revoke_old", "revoke_sessions", "verify_dead"):
                out["rotated"] += n
            elif int(r["attempts"]) > 0:
                out["failing"] += n
            else:
                out["remaining"] += n
        return out
