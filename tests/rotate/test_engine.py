"""The engine through the command provider: one-shot creates, tagged orphans, retries and
needs_manual, unknown probes never DEAD, the journal-before-action rule, exceptions, watch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from keyreaper.domain import Credential
from keyreaper.events.schema import EVENT_SCHEMA
from keyreaper.events.store import EventStore
from keyreaper.rotate import exceptions as rotate_exceptions
from keyreaper.workspace import Workspace
from tests.rotate.helpers import Bench, write_targets

FAKE = Path(__file__).with_name("fake_target.py")


class Fake:
    def __init__(self, tmp: Path, keys: dict[str, str]) -> None:
        self.path = tmp / "target.json"
        self.save({"keys": {k: {"secret": v, "tag": "", "active": True} for k, v in keys.items()}})

    def load(self) -> dict[str, Any]:
        return dict(json.loads(self.path.read_text()))

    def save(self, state: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(state))

    def set(self, **flags: Any) -> None:
        state = self.load()
        state.update(flags)
        self.save(state)

    def command(self, op: str) -> str:
        return f"{sys.executable} {FAKE} {self.path} {op}"

    def provider(self) -> dict[str, Any]:
        return {
            "type": "command",
            **{op: self.command(op) for op in ("probe", "create", "revoke", "tagged", "discard")},
        }


def _setup(
    ws: Workspace, tmp: Path, n: int = 2, **settings: Any
) -> tuple[Bench, Fake, list[Credential]]:
    keys = {f"key-old{i}": f"CmdOldCanary{i:03d}xxxxxxxxxxxx" for i in range(n)}
    fake = Fake(tmp, keys)
    creds = [
        Credential(
            id=f"command:api_token:{k}", provider="command", kind="api_token", identifiers=(k,)
        )
        for k in keys
    ]
    bench = Bench(ws, tmp)
    bench.add(creds, {c.id: keys[c.identifiers[0]] for c in creds})
    write_targets(
        bench.targets, {"command": fake.provider()}, secrets=bench.secrets_file, sink_dir=bench.sink_dir,
        settings={"verify_count": 2, "verify_spacing": 0.01, "backoff": 0.01, "max_attempts": 3, **settings},
    )  # fmt: skip
    return bench, fake, creds


def _journal(ws: Workspace, action: str) -> list[dict[str, Any]]:
    return ws.db.query("SELECT * FROM audit_log WHERE action = ? ORDER BY seq", (action,))


def test_one_shot_rotation_end_to_end(workspace: Workspace, tmp_path: Path, capsys: Any) -> None:
    bench, fake, creds = _setup(workspace, tmp_path)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 0
    keys = fake.load()["keys"]
    for c in creds:
        assert keys[c.identifiers[0]]["active"] is False
        new = bench.delivered(c.id)
        live = [k for k, v in keys.items() if v["active"] and v["tag"] == f"keyreaper:c:{c.id}"]
        assert len(live) == 1 and keys[live[0]]["secret"] == new
    begins = [r["detail"] for r in _journal(workspace, "campaign.create")]
    assert len(_journal(workspace, "campaign.verify_dead")) >= 2 * 3  # begin + refusal lines
    assert all(r["actor"] for r in _journal(workspace, "campaign.revoke_old"))
    assert begins
    assert workspace.db.query("SELECT COUNT(*) AS n FROM campaign_sealed")[0]["n"] == 0
    assert (
        bench.plaintext_leaks([bench.delivered(c.id) for c in creds] + list(bench.old.values()))
        == []
    )


def _run_sub(bench: Bench, name: str, crash: str | None) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if crash:
        env["KEYREAPER_CRASH_AT"] = crash
    argv = [sys.executable, "-m", "keyreaper", "-w", str(bench.ws.root), "campaign", "run", name,
            "--targets", str(bench.targets), "--no-progress"]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, timeout=120).returncode


def test_tagged_orphan_cleaned_on_resume(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    bench, fake, creds = _setup(sqlite_workspace, tmp_path, n=1)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    # Killed right after the target created a key, before its secret was sealed: lost.
    assert _run_sub(bench, "c", "create:created") == -9
    tag = f"keyreaper:c:{creds[0].id}"
    orphan = [k for k, v in fake.load()["keys"].items() if v["tag"] == tag]
    assert len(orphan) == 1
    assert _run_sub(bench, "c", None) == 0
    keys = fake.load()["keys"]
    assert keys[orphan[0]]["active"] is False  # discarded
    live = [k for k, v in keys.items() if v["tag"] == tag and v["active"]]
    assert len(live) == 1 and keys[live[0]]["secret"] == bench.delivered(creds[0].id)
    assert any(
        r["outcome"] == "discarded orphan" for r in _journal(sqlite_workspace, "campaign.create")
    )


def test_needs_manual_after_attempts_and_retry(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench, fake, _creds = _setup(sqlite_workspace, tmp_path, n=1)
    fake.set(unreachable=True)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 1
    report = bench.status("c", capsys)
    assert report["counts"]["needs_manual"] == 1
    item = report["not_dead"][0]
    assert item["attempts"] == 3 and "needs a person after 3 attempt(s) at preflight" in item["why"]
    fake.set(unreachable=False)
    assert bench.run("c", "--retry-manual") == 0
    assert bench.status("c", capsys)["counts"]["dead"] == 1


def test_network_errors_never_count_as_dead(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench, fake, _creds = _setup(sqlite_workspace, tmp_path, n=1)
    fake.set(unreachable_after_revoke=True)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 1
    report = bench.status("c", capsys)
    assert report["counts"]["dead"] == 0 and report["counts"]["needs_manual"] == 1
    assert report["not_dead"][0]["step"] == "verify_dead"
    assert "inconclusive" in report["not_dead"][0]["why"]


def test_step_whose_journal_write_fails_does_not_run(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench, fake, creds = _setup(sqlite_workspace, tmp_path, n=1)
    db = sqlite_workspace.db
    db.execute(
        "CREATE TRIGGER no_revoke BEFORE INSERT ON audit_log WHEN NEW.action = 'campaign.revoke_old'"
        " AND NEW.outcome = 'begin' BEGIN SELECT RAISE(ABORT, 'journal is full'); END"
    )
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 1
    state = fake.load()
    assert "revoke" not in state["calls"]  # never touched the target
    assert state["keys"][creds[0].identifiers[0]]["active"] is True
    db.execute("DROP TRIGGER no_revoke")
    assert bench.run("c", "--retry-manual") == 0
    assert fake.load()["keys"][creds[0].identifiers[0]]["active"] is False


def test_exception_and_its_expiry(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench, fake, creds = _setup(sqlite_workspace, tmp_path, n=2)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    # An hour away, then the clock the expiry check reads is moved past it: a wall-clock
    # wait of seconds made this test fail on a loaded machine.
    expiry = datetime.now(UTC) + timedelta(hours=1)
    soon = expiry.isoformat()
    cid = creds[0].id
    capsys.readouterr()
    assert (
        bench.cli(
            "campaign",
            "except",
            "c",
            cid,
            "--reason",
            "vendor migration",
            "--approver",
            "ciso",
            "--expires",
            soon,
            "--json",
        )
        == 0
    )
    got = json.loads(capsys.readouterr().out)
    assert got["attestation"].startswith("none")
    assert bench.run("c") == 0
    report = bench.status("c", capsys)
    assert report["counts"]["excepted"] == 1 and report["counts"]["dead"] == 1
    assert (
        "excepted until" in report["not_dead"][0]["why"] and "ciso" in report["not_dead"][0]["why"]
    )
    assert fake.load()["keys"][creds[0].identifiers[0]]["active"] is True
    monkeypatch.setattr(rotate_exceptions, "now", lambda: expiry + timedelta(seconds=1))
    assert bench.run("c") == 0  # expired: back in the queue, then done
    assert bench.status("c", capsys)["counts"]["dead"] == 2
    assert (
        bench.cli(
            "campaign",
            "except",
            "c",
            cid,
            "--reason",
            "r",
            "--approver",
            "a",
            "--expires",
            "2001-01-01",
        )
        == 2
    )


def test_watch_reopens_item_as_critical(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench, _fake, creds = _setup(sqlite_workspace, tmp_path, n=1)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 0
    old_ident = creds[0].identifiers[0]
    later = datetime.now(UTC) + timedelta(minutes=5)
    rows = {name: [None] * 1 for name in EVENT_SCHEMA.names}
    rows.update(time=[later], source=["okta"], event_type=["user.session.start"], outcome=["success"],
                credential_id=[old_ident], src_ip=["193.142.58.126"], raw=["{}"], origin=["okta.json:7"])  # fmt: skip
    EventStore(sqlite_workspace.events_dir).write(
        "okta", [pa.RecordBatch.from_pydict(rows, schema=EVENT_SCHEMA)]
    )
    report = bench.status("c", capsys)
    assert report["critical"] == 1
    why = report["not_dead"][0]["why"]
    assert (
        why.startswith("CRITICAL old credential used after revocation") and "193.142.58.126" in why
    )
    # Re-verified at the target (still refused) it is dead again, but stays marked critical.
    assert bench.run("c") == 0
    again = bench.status("c", capsys)
    assert again["counts"]["dead"] == 1 and again["critical"] == 1


def test_provider_that_cannot_create_is_needs_manual(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench, fake, creds = _setup(sqlite_workspace, tmp_path, n=1)
    provider = fake.provider()
    del provider["create"]
    write_targets(bench.targets, {"command": provider}, secrets=bench.secrets_file, sink_dir=bench.sink_dir,
                  settings={"backoff": 0.01})  # fmt: skip
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 1
    report = bench.status("c", capsys)
    assert (
        report["counts"]["needs_manual"] == 1
        and "no create command" in report["not_dead"][0]["why"]
    )
    assert (
        fake.load()["keys"][creds[0].identifiers[0]]["active"] is True
    )  # nothing revoked without a replacement


def test_kind_never_replaced_becomes_a_revoke(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    """A provider saying "this kind is never replaced" (CreateBlocked, needs_manual=False):
    the item is revoked instead, and still verified dead."""
    from keyreaper import rotate
    from keyreaper.providers.blockers import CreateBlocked
    from keyreaper.rotate import runner
    from keyreaper.rotate.targets import load

    bench, fake, creds = _setup(sqlite_workspace, tmp_path, n=1)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    targets = load(bench.targets)
    provider = targets.providers["command"].provider

    def never(credential: Credential, tag: str) -> Any:
        raise CreateBlocked("tokens of this kind cannot be minted by API", needs_manual=False)

    provider.create = never  # type: ignore[method-assign]
    counts = runner.run(rotate.engine(sqlite_workspace, "c", targets))
    assert counts["dead"] == 1
    row = sqlite_workspace.db.query("SELECT action, reason FROM campaign_items")[0]
    assert row["action"] == "revoke" and "cannot be minted" in row["reason"]
    assert fake.load()["keys"][creds[0].identifiers[0]]["active"] is False


def test_item_of_an_unconfigured_provider_is_needs_manual(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench, _, _ = _setup(sqlite_workspace, tmp_path, n=1)
    write_targets(bench.targets, {}, secrets=bench.secrets_file, sink_dir=bench.sink_dir)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 1
    report = bench.status("c", capsys)
    assert "no [providers.command] in the targets file" in report["not_dead"][0]["why"]
