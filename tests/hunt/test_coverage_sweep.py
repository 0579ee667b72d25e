"""Coverage gaps are named per hunt and source; the sweep classifies what a principal did."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.hunt import replay

from keyreaper.hunt import coverage, packs, sweep
from keyreaper.hunt.run import connect
from keyreaper.workspace import Workspace


def test_coverage_names_gaps(replay_ws: Workspace) -> None:
    con = connect(replay_ws)
    rows = coverage.coverage(con, packs.builtin(), since=datetime(2023, 11, 1, tzinfo=UTC))
    status = {(r["hunt"], r["source"], r["event_type"]): r["status"] for r in rows}
    # Okta logs are there, but not the event type that shows a new API token: a gap, loudly.
    assert status[("api_token_created", "okta", "system.api_token.create")].startswith(
        "GAP: source present"
    )
    assert status[("api_token_created", "github", "public_key.create")] == (
        "GAP: no events from this source"
    )
    assert status[("atlassian_plugin_install", "jira", "Plugin installed")] == "ok"
    assert status[("lookalike_service_account", "jira", "User created")] == "ok"
    assert rows[0]["status"] != "ok"  # gaps first
    blind = {r["hunt"] for r in rows if r["hunt_blind"]}
    assert "github_app_installed" in blind and "atlassian_plugin_install" not in blind
    # Before the incident window the plugin install is not in the store: the same hunt is blind.
    early = coverage.coverage(con, packs.select(["atlassian_plugin_install"]),
                              until=datetime(2023, 11, 1, tzinfo=UTC))  # fmt: skip
    assert all(r["hunt_blind"] for r in early)


def test_sweep_classes(replay_ws: Workspace) -> None:
    con = connect(replay_ws)
    hits = sweep.sweep(con, [replay.BB], since=datetime(2023, 11, 14, tzinfo=UTC))
    assert hits == []  # archive downloads are reads, not changes
    # Ticket edits of the baseline weeks are not access changes: only the attacker's remain.
    hits = sweep.sweep(con, [replay.SVC.upper()], since=datetime(2023, 10, 1, tzinfo=UTC))
    assert [h.detail["what"] for h in hits] == ["user", "plugin", "group_grant"]
    assert all(h.kind == "sweep" and h.origin.startswith("replay-jira") for h in hits)
    assert sweep.sweep(con, [replay.SVC], since=datetime(2023, 11, 24, tzinfo=UTC)) == []
