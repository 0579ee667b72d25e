"""The planner, and the Cloudflare case: credentials claimed unused but used are rotated,
an exposed credential proven NOT_SEEN is revoked, nothing exposed is left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keyreaper.domain import Attestation, Claim, Credential, UsageVerdict
from keyreaper.errors import InputError
from keyreaper.inventory import repo
from keyreaper.rotate.plan import parse_select, plan
from keyreaper.usage.store import save
from keyreaper.workspace import Workspace
from tests.rotate.helpers import Bench

NOW = datetime(2023, 11, 1, tzinfo=UTC)


def _att(cid: str, verdict: UsageVerdict, uses: int = 0) -> Attestation:
    return Attestation(
        credential_id=cid, verdict=verdict, window_start=NOW - timedelta(days=90), window_end=NOW,
        computed_at=NOW, last_use=NOW - timedelta(days=2) if uses else None, use_count=uses,
        sources_searched=("okta", "cloudtrail"),
    )  # fmt: skip


def _expose(ws: Workspace, name: str, cred_ids: list[str], orphans: int = 0) -> None:
    db = ws.db
    with db.transaction():
        db.execute(
            "INSERT INTO exposures (name, t0, t0_source, created_at) VALUES (?, ?, ?, ?)",
            (name, NOW.isoformat(), "har", NOW.isoformat()),
        )
        rows = [
            (name, f"k{i}", "api_token", "", cid, "har entry") for i, cid in enumerate(cred_ids)
        ]
        rows += [
            (name, f"o{i}", "cookie", f"sid…{i:04d}", None, "har cookie") for i in range(orphans)
        ]
        db.executemany(
            "INSERT INTO exposure_items (exposure, item_key, kind, hint, credential_id, evidence)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )


def test_cloudflare_case(sqlite_workspace: Workspace, tmp_path: Path, capsys: Any) -> None:
    ws = sqlite_workspace
    creds = []
    for i in range(1000):
        provider, kind = ("postgres", "db_role") if i % 2 else ("redis", "password")
        creds.append(Credential(id=f"{provider}:{kind}:svc{i:04d}", provider=provider, kind=kind,
                                identifiers=(f"svc{i:04d}",)))  # fmt: skip
    claimed = [creds[i].id for i in (10, 211, 512, 913)]
    creds = [
        Credential(c.id, c.provider, c.kind, c.identifiers, claim=Claim("unused", "it-ops", "2023-10-20"))
        if c.id in claimed else c
        for c in creds
    ]  # fmt: skip
    repo.upsert(ws.db, creds, "test")
    unrelated = Credential(
        id="redis:password:not-exposed", provider="redis", kind="password", identifiers=("ne",)
    )
    repo.upsert(ws.db, [unrelated], "test")
    not_seen = creds[7].id
    save(ws.db, [_att(c, UsageVerdict.USED, uses=42) for c in claimed])
    save(ws.db, [_att(not_seen, UsageVerdict.NOT_SEEN)])
    _expose(ws, "okta-har-2023-10", [c.id for c in creds[:600]], orphans=2)
    _expose(ws, "support-bundle", [c.id for c in creds[500:]])

    bench = Bench(ws, tmp_path)
    assert bench.cli("campaign", "plan", "code-red", "--all-exposed", "--json") == 0
    rows = {r["item"]: r for r in json.loads(capsys.readouterr().out)}
    exposed_rows = {k: v for k, v in rows.items() if not k.startswith("unmatched:")}
    assert set(exposed_rows) == {c.id for c in creds}  # all 1,000, and only the exposed
    for cid in claimed:
        assert rows[cid]["action"] == "rotate"
        assert "CLAIMED UNUSED by it-ops BUT USED" in rows[cid]["reason"]
        assert rows[cid]["usage"] == "USED"
    assert rows[not_seen]["action"] == "revoke"
    assert "NOT_SEEN" in rows[not_seen]["reason"] and "free to kill" in rows[not_seen]["reason"]
    assert rows[creds[550].id]["exposures"] == ["okta-har-2023-10", "support-bundle"]
    assert sum(1 for r in exposed_rows.values() if r["action"] == "rotate") == 999
    orphans = [r for k, r in rows.items() if k.startswith("unmatched:")]
    assert len(orphans) == 2 and all(
        r["action"] == "blocked" and "matches no credential" in r["reason"] for r in orphans
    )


def test_blocked_names_what_is_missing(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    repo.upsert(ws.db, [
        Credential(id="jira:api_token:x", provider="jira", kind="api_token", identifiers=("x",)),
        Credential(id="ssh:db_role:y", provider="ssh", kind="db_role", identifiers=("y",)),
        Credential(id="postgres:db_role:z", provider="postgres", kind="db_role", identifiers=("z",)),
    ], "test")  # fmt: skip
    got = {d.credential_id: d for d in plan(ws.db, "c", everything=True)}
    assert got["jira:api_token:x"].action.value == "blocked"
    assert "no provider named 'jira'" in got["jira:api_token:x"].reason
    assert "does not handle kind db_role" in got["ssh:db_role:y"].reason
    assert got["postgres:db_role:z"].action.value == "rotate"
    assert "usage UNKNOWN" in got["postgres:db_role:z"].reason


def test_select_and_replan_keeps_progress(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    repo.upsert(ws.db, [
        Credential(id="redis:password:a", provider="redis", kind="password", identifiers=("a",)),
        Credential(id="postgres:db_role:b", provider="postgres", kind="db_role", identifiers=("b",)),
    ], "test")  # fmt: skip
    assert [d.credential_id for d in plan(ws.db, "c", select="provider=redis")] == [
        "redis:password:a"
    ]
    ws.db.execute(
        "UPDATE campaign_items SET step = 'verify_dead', started_at = 'x' WHERE credential_id = 'redis:password:a'"
    )
    plan(ws.db, "c", everything=True)
    rows = {r["credential_id"]: r for r in ws.db.query("SELECT * FROM campaign_items")}
    assert rows["redis:password:a"]["step"] == "verify_dead" and len(rows) == 2


@pytest.mark.parametrize("text", ["provider", "colour=blue", ""])
def test_bad_select_names_the_place(text: str) -> None:
    with pytest.raises(InputError, match="--select"):
        parse_select(text)


def test_plan_needs_exactly_one_selector(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench = Bench(sqlite_workspace, tmp_path)
    assert bench.cli("campaign", "plan", "x") == 2
    assert bench.cli("campaign", "plan", "x", "--all", "--all-exposed") == 2
    assert bench.cli("campaign", "plan", "x", "--exposure", "nope") == 2
    assert "no exposure named 'nope'" in capsys.readouterr().err


def test_sessions_are_revoked_never_rotated(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    repo.upsert(
        ws.db,
        [
            Credential(
                id="command:session:s1", provider="command", kind="session", identifiers=("s1",)
            )
        ],
        "t",
    )
    (d,) = plan(ws.db, "c", everything=True)
    assert d.action.value == "revoke" and "never replaced" in d.reason
