"""The big crash-safety run: SIGKILL the campaign runner KR_CRASH_KILLS times (default 1,000)
on a KR_CRASH_CREDS-credential (default 5,000) PostgreSQL + Redis + SSH campaign, resuming
each time, then check every invariant against the servers (tests/rotate/crash_harness.py).
The CI-sized run is tests/rotate/test_crash.py (500 credentials, 100 kills)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from tests.rotate import crash_harness as h
from tests.servers.postgres import start_postgres
from tests.servers.redis import start_redis
from tests.servers.sshd import start_sshd

from bench.common import RESULTS, commit, machine
from keyreaper.workspace import Workspace, init


def main() -> None:
    creds = int(os.environ.get("KR_CRASH_CREDS", "5000"))
    kills = int(os.environ.get("KR_CRASH_KILLS", "1000"))
    n_pg, n_redis = creds // 2, creds * 2 // 5
    n_ssh = creds - n_pg - n_redis
    pg, rd, ssh = start_postgres(), start_redis(), start_sshd()
    tmp = Path(tempfile.mkdtemp(prefix="kr-bench-crash-"))
    try:
        started = time.monotonic()
        ws = Workspace(init(tmp / "ws"))
        fleet = h.build(ws, tmp, pg, rd, ssh, n_pg, n_redis, n_ssh)
        root = ws.root
        ws.close()
        got = h.torture(root, tmp, kills=kills, named_rounds=max(2, kills // 100))
        ws = Workspace(root)
        bad = h.check(ws, tmp, fleet, pg, rd, ssh) + h.ssh_logins(fleet, tmp, ssh, limit=100)
        counts = h.summary(ws)
        ws.close()
        elapsed = time.monotonic() - started
        verdict = "all invariants hold" if not bad else f"{len(bad)} violation(s), first: {bad[0]}"
        text = (
            f"### campaign crash safety — {dt.date.today().isoformat()}, commit {commit()}, {machine()}\n\n"
            f"Reproduce: `KR_CRASH_CREDS={creds} KR_CRASH_KILLS={kills} python bench/run.py rotate_crash`\n\n"
            f"{creds} credentials ({n_pg} PostgreSQL, {n_redis} Redis, {n_ssh} SSH); "
            f"{got['named']} kills at named crash points + {got['random']} at random times "
            f"({got['runs']} runner lives), {elapsed:.0f} s. Final: {counts['dead']} verified dead, "
            f"{counts['excepted']} excepted. {verdict}.\n\n"
        )
        with RESULTS.open("a") as fh:
            fh.write(text)
        print(text)
    finally:
        for server in (pg, rd, ssh):
            server.stop()


if __name__ == "__main__":
    main()
