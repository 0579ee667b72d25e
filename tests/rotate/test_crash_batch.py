"""Batched steps under SIGKILL: the runner is killed right after a batched call answered
(one pg_authid read / one pg_terminate_backend query for several items) and before any of
those items' outcome lines were written; each resume must still end with every role
rotated once, its old password refused by the server, the delivered one accepted, and its
old sessions gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from keyreaper.domain import Credential
from keyreaper.workspace import Workspace
from tests.rotate.helpers import Bench, write_targets
from tests.servers.postgres import PostgresServer

N = 8
POINTS = ("after-batch:preflight", "after-batch:revoke_sessions")


def _run(bench: Bench, crash: str = "") -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("KEYREAPER_CRASH_AT", None)
    if crash:
        env["KEYREAPER_CRASH_AT"] = crash
    argv = [sys.executable, "-m", "keyreaper", "-w", str(bench.ws.root), "campaign", "run", "b",
            "--targets", str(bench.targets), "--no-progress"]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, timeout=120).returncode


def _login(server: PostgresServer, user: str, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=server.host, port=server.port, dbname="postgres", user=user, password=password
    )


def test_kill_between_a_batched_call_and_its_journal_lines(
    sqlite_workspace: Workspace, tmp_path: Path, postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    names = [f"kr_cb_{i}" for i in range(N)]
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        for n in names:
            conn.execute(f'DROP ROLE IF EXISTS "{n}"')
            conn.execute(f"CREATE ROLE \"{n}\" LOGIN PASSWORD 'Old-{n}'")
    monkeypatch.setenv("KR_TEST_PG", postgres_server.dsn())
    creds = [Credential.make_id("postgres", "db_role", n) for n in names]
    bench = Bench(sqlite_workspace, tmp_path)
    bench.add(
        [Credential(id=c, provider="postgres", kind="db_role", identifiers=(n,))
         for c, n in zip(creds, names, strict=True)],
        {c: f"Old-{n}" for c, n in zip(creds, names, strict=True)},
    )  # fmt: skip
    write_targets(
        bench.targets, {"postgres": {"dsn_env": "KR_TEST_PG", "concurrency": 2}},
        secrets=bench.secrets_file, sink_dir=bench.sink_dir,
        settings={"verify_count": 1, "verify_spacing": 0.0, "backoff": 0.05},
    )  # fmt: skip
    held = [_login(postgres_server, n, f"Old-{n}") for n in names]
    assert bench.cli("campaign", "plan", "b", "--all") == 0
    # Killed once at each batched step, right after its first batch answered; then a clean
    # run to the end.
    for point in POINTS:
        assert _run(bench, f"{point}#1") == -9
    assert _run(bench) == 0

    db = sqlite_workspace.db
    states = {r["state"] for r in db.query("SELECT state FROM campaign_items WHERE campaign = 'b'")}
    assert states == {"dead"}
    generated = db.query(
        "SELECT subject, COUNT(*) AS n FROM audit_log WHERE action = 'campaign.create'"
        " AND outcome = 'generated' GROUP BY subject"
    )
    assert len(generated) == N and {r["n"] for r in generated} == {1}  # none rotated twice
    for n, c in zip(names, creds, strict=True):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            _login(postgres_server, n, f"Old-{n}")
        _login(postgres_server, n, bench.delivered(c)).close()
    for conn in held:
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    # The killed lives left intent lines whose outcome came only after the resume.
    for point in POINTS:
        begins = db.query(
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = ? AND outcome = 'begin'",
            ("campaign." + point.split(":")[1],),
        )[0]["n"]
        assert begins > N
