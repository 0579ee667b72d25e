"""Timeline filters: by credential, by actor, by time; campaign actions from the journal."""

from __future__ import annotations

from datetime import UTC, datetime

from keyreaper.domain import Credential
from keyreaper.hunt import store, timeline
from keyreaper.hunt.run import connect
from keyreaper.inventory import repo
from keyreaper.store.audit import record
from keyreaper.workspace import Workspace


def test_filters_and_actions(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    repo.upsert(ws.db, [Credential("aws:access_key:AKIA1", "aws", "access_key", ("AKIA1",))], "t")
    t = datetime(2023, 11, 20, tzinfo=UTC)
    store.save_hits(ws.db, [
        store.Hit("ioc", "ioc:ipv4", t, "a:1", title="x", actor="alice", credential="AKIA1"),
        store.Hit("pack", "admin_grant", t, "b:2", title="y", actor="bob"),
    ])  # fmt: skip
    record(ws.db, "campaign.revoke", subject="aws:access_key:AKIA1", outcome="done")
    record(ws.db, "hunt.run", outcome="ok")
    con = connect(ws)
    rows = timeline.build(ws.db, con)
    assert [r["lane"] for r in rows] == ["hit", "hit", "action"]
    assert [r["evidence"] for r in timeline.build(ws.db, con, credential="aws:access_key:AKIA1")] == [
        "a:1", "audit_log: done"]  # fmt: skip
    assert [r["actor"] for r in timeline.build(ws.db, con, actor="BOB")] == ["bob"]
    assert timeline.build(ws.db, con, since=datetime(2030, 1, 1, tzinfo=UTC)) == []
