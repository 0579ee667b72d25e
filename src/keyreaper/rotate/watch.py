"""Watch: after revocation, any event that uses the old identifier or fingerprint reopens
the item as critical — the revocation did not hold, or something still tries the old key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from keyreaper.events.store import EventStore
from keyreaper.rotate.journal import Journal


def _watch_values(row: dict[str, str], identifier: str) -> list[str]:
    """What an event would carry if it used the old credential. A password keeps its role
    name when rotated, so the name is watched only when it died with the old secret."""
    values: list[str] = []
    fp = row["old_fingerprint"]
    if fp:
        values += [fp, fp.rsplit(":", 1)[-1]]
    if row["action"] == "revoke" or (row["new_identifier"] and row["new_identifier"] != identifier):
        values.append(identifier)
    return values


def check(journal: Journal, events_dir: Path) -> list[str]:
    """Reopen every dead item whose old credential shows up in events after revocation;
    returns the reopened credential ids."""
    with journal.lock:
        rows = journal.db.query(
            "SELECT credential_id, action, old_fingerprint, new_identifier, watch_since"
            " FROM campaign_items WHERE campaign = ? AND state = 'dead' AND watch_since <> ''",
            (journal.campaign,),
        )
        idents = {
            r["credential_id"]: r["identifier"]
            for r in journal.db.query(
                "SELECT i.credential_id, MIN(i.identifier) AS identifier FROM credential_identifiers i"
                " JOIN campaign_items c ON c.credential_id = i.credential_id AND c.campaign = ?"
                " GROUP BY i.credential_id",
                (journal.campaign,),
            )
        }
    if not rows:
        return []
    store = EventStore(events_dir)
    if not store.files():
        return []
    watch = [
        (value, r["credential_id"], datetime.fromisoformat(r["watch_since"]))
        for r in rows
        for value in _watch_values(r, idents.get(r["credential_id"], ""))
    ]
    con = store.connect()
    try:
        con.execute("CREATE TEMP TABLE watch (value TEXT, item TEXT, since TIMESTAMPTZ)")
        con.executemany("INSERT INTO watch VALUES (?, ?, ?)", watch)
        hits = con.execute(
            "SELECT w.item, COUNT(*) AS n, MAX(e.time) AS last,"
            " arg_max(e.source || ' ' || e.event_type || ' outcome=' || COALESCE(e.outcome, '?')"
            " || ' from ' || COALESCE(e.src_ip, '?') || ' at ' || e.origin, e.time) AS what"
            " FROM events e JOIN watch w ON e.credential_id = w.value AND e.time > w.since"
            " GROUP BY w.item"
        ).fetchall()
    finally:
        con.close()
    reopened: list[str] = []
    for item_id, n, last, what in hits:
        item = journal.item(item_id)
        why = f"old credential used after revocation: {n} event(s), last {last.isoformat()}: {what}"
        journal.transition(
            item, "watch", outcome="reopened critical", fingerprint=item["old_fingerprint"],
            detail=why, state="reopened", severity="critical", step="verify_dead",
            dead_probes=0, watch_since=last.isoformat(), last_error=why, next_at="", attempts=0,
        )  # fmt: skip
        reopened.append(item_id)
    return reopened
