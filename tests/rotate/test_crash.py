"""Crash safety: ≥100 SIGKILLs of the runner on a 500-credential PostgreSQL + Redis + SSH
campaign, at every named crash point and at random times, resuming each time; then the
servers' own state must show every item verified dead or excepted, nothing rotated twice,
no orphan of ours live, and every delivered secret working. The 5,000-credential /
1,000-kill variant is bench/bench_rotate_crash.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from keyreaper.sinks.file import _UNSAFE
from keyreaper.workspace import Workspace
from tests.rotate import crash_harness as h
from tests.servers.postgres import PostgresServer
from tests.servers.redis import RedisServer
from tests.servers.sshd import SshdServer

SIZE = (250, 200, 50)
KILLS = 100


@pytest.mark.slow
def test_sigkill_at_every_crash_point_and_at_random(
    sqlite_workspace: Workspace, tmp_path: Path, postgres_server: PostgresServer,
    redis_server: RedisServer, sshd_server: SshdServer,
) -> None:  # fmt: skip
    ws = sqlite_workspace
    started = time.monotonic()
    fleet = h.build(ws, tmp_path, postgres_server, redis_server, sshd_server, *SIZE)
    assert len(fleet.creds) == 500
    root = ws.root
    ws.close()  # the forked runners open their own store; nothing crosses fork()
    got = h.torture(root, tmp_path, kills=KILLS)
    ws = Workspace(root)
    try:
        assert got["named"] >= len(h.NAMED)  # each named point really killed the runner
        assert got["named"] + got["random"] >= KILLS, got
        counts = h.summary(ws)
        assert counts["dead"] == 499 and counts["excepted"] == 1, counts
        bad = h.check(ws, tmp_path, fleet, postgres_server, redis_server, sshd_server)
        bad += h.ssh_logins(fleet, tmp_path, sshd_server, limit=50)
        assert bad == [], bad[:20]
        assert ws.db.query("SELECT COUNT(*) AS n FROM campaign_sealed")[0]["n"] == 0
        sample = fleet.creds[::25]
        canaries = [fleet.old[c.id] for c in sample] + [
            (tmp_path / "delivered" / _UNSAFE.sub("_", c.id)).read_text().strip()
            for c in sample
            if c.id != fleet.excepted
        ]
        blobs = [p.read_bytes() for p in root.rglob("*") if p.is_file()]
        assert not [
            v for v in canaries if any(v.encode() in b for b in blobs)
        ]  # no plaintext at rest
        leftovers = [
            p
            for p in sshd_server.authorized_keys.parent.iterdir()
            if p.name.startswith(".keyreaper-")
        ]
        for p in leftovers:  # a kill mid-rewrite leaves a temp file; the real file stays whole
            p.unlink()
    finally:
        ws.close()
    print(f"crash test: {got}, {time.monotonic() - started:.0f}s, pid {os.getpid()}")
