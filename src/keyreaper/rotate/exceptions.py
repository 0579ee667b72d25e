"""The only way out of a campaign besides verified-dead: an exception with a reason, an
approver, an expiry and the usage attestation it relied on. Expired ones return to the queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

from keyreaper.errors import InputError, KeyreaperError, Location
from keyreaper.rotate.journal import Journal, iso, now
from keyreaper.store.audit import current_actor
from keyreaper.usage.store import latest


def parse_expiry(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            Location("--expires"), f"{text!r} is not an ISO 8601 date or time"
        ) from None
    if value.tzinfo is None:
        # A bare date means the end of that day, UTC.
        value = (
            datetime.combine(value.date(), time.max, UTC)
            if len(text) <= 10
            else value.replace(tzinfo=UTC)
        )
    if value <= now():
        raise InputError(Location("--expires"), "the expiry is in the past")
    return value


def grant(
    journal: Journal, credential_id: str, reason: str, approver: str, expires: str
) -> dict[str, str]:
    if not reason.strip() or not approver.strip():
        raise KeyreaperError("an exception needs a --reason and an --approver")
    until = parse_expiry(expires)
    try:
        item = journal.item(credential_id)
    except KeyError:
        raise KeyreaperError(f"campaign {journal.campaign} has no item {credential_id!r}") from None
    if item["state"] == "dead":
        raise KeyreaperError(f"{credential_id} is already verified dead; no exception needed")
    with journal.lock:
        att = latest(journal.db, credential_id)
    relied = (
        json.dumps(
            {
                "verdict": att.verdict.value,
                "computed_at": att.computed_at.isoformat(),
                "window": [att.window_start.isoformat(), att.window_end.isoformat()],
                "sources": list(att.sources_searched),
                "last_use": att.last_use.isoformat() if att.last_use else None,
            },
        )
        if att
        else "none: no usage attestation existed"
    )
    stamp = iso()
    actor = current_actor()

    def insert() -> None:
        journal.db.execute(
            "INSERT INTO campaign_exceptions (campaign, credential_id, reason, approver, expires,"
            " attestation, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                journal.campaign,
                credential_id,
                reason,
                approver,
                until.isoformat(),
                relied,
                actor,
                stamp,
            ),
        )

    journal.transition(
        item, "except", outcome="excepted", fingerprint=item["old_fingerprint"],
        detail=f"approver={approver} expires={until.isoformat()} reason={reason} attestation={relied}",
        also=insert, state="excepted",
    )  # fmt: skip
    return {"item": credential_id, "expires": until.isoformat(), "attestation": relied}


def expire(journal: Journal) -> list[str]:
    """Return items whose exception has run out to the queue (or to blocked)."""
    with journal.lock:
        rows = journal.db.query(
            "SELECT e.credential_id, e.created_at, e.expires FROM campaign_exceptions e"
            " JOIN campaign_items i ON i.campaign = e.campaign AND i.credential_id = e.credential_id"
            " WHERE e.campaign = ? AND e.ended_at = '' AND i.state = 'excepted'",
            (journal.campaign,),
        )
    back: list[str] = []
    for r in rows:
        if datetime.fromisoformat(r["expires"]) > now():
            continue
        item = journal.item(r["credential_id"])
        state = "blocked" if item["action"] == "blocked" else "pending"

        def end(created: str = r["created_at"], cid: str = r["credential_id"]) -> None:
            journal.db.execute(
                "UPDATE campaign_exceptions SET ended_at = ? WHERE campaign = ? AND credential_id = ?"
                " AND created_at = ?",
                (iso(), journal.campaign, cid, created),
            )

        journal.transition(
            item, "except", outcome="expired", detail=f"exception expired {r['expires']}",
            also=end, state=state, attempts=0, next_at="",
        )  # fmt: skip
        back.append(r["credential_id"])
    return back
