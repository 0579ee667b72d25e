"""Rotation + verification of PostgreSQL roles: `keyreaper campaign run` against a bare
psycopg loop doing the same ALTER ROLE, new-login test and refused old-login probes, at the
same concurrency, on a throwaway server. Sizes: KR_BENCH_ROLES (default 5000),
KR_BENCH_CONCURRENCY (8), KR_BENCH_PROBES (1), KR_BENCH_ROUNDS (2)."""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from tests.rotate.helpers import write_targets
from tests.servers.postgres import start_postgres

from bench.common import REPO, Runner, Timing, _run_once, report
from keyreaper.domain import Credential
from keyreaper.inventory import repo
from keyreaper.providers.postgres import scram_verifier
from keyreaper.rotate.plan import plan
from keyreaper.workspace import Workspace, init


def _reset(dsn: str, old: dict[str, str], verifiers: dict[str, str]) -> None:
    """Every role back to its old password (stored as a verifier: no server-side hashing)."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for cid in old:
            role = cid.split(":", 2)[2]
            cur.execute(
                sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(verifiers[cid])
                )
            )


def _server_cpu(server_pid: int) -> float:
    """CPU seconds of the server: the postmaster and every backend it has reaped."""
    fields = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _client_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _measured(runner: Runner, server_pid: int) -> tuple[float, float, float, float]:
    """Wall seconds, peak RSS, and the CPU seconds of the client and of the server."""
    time.sleep(1.0)  # the server session of _reset ends, so its CPU is not counted here
    c0, s0 = _client_cpu(), _server_cpu(server_pid)
    wall, rss, _ = _run_once(runner)
    time.sleep(1.0)  # the client's server sessions end just after it exits
    return wall, rss, _client_cpu() - c0, _server_cpu(server_pid) - s0


def _workspace(
    base: Path, old: dict[str, str], dsn_env: str, concurrency: int, probes: int, secrets_file: Path
) -> list[str]:
    root = init(base / f"ws-{time.monotonic_ns()}")
    ws = Workspace(root)
    creds = [
        Credential(id=cid, provider="postgres", kind="db_role", identifiers=(cid.split(":", 2)[2],))
        for cid in old
    ]
    repo.upsert(ws.db, creds, "bench")
    plan(ws.db, "bench", everything=True)
    ws.close()
    targets = write_targets(
        base / "targets.toml", {"postgres": {"dsn_env": dsn_env, "concurrency": concurrency}},
        secrets=secrets_file, sink_dir=base / f"delivered-{time.monotonic_ns()}",
        settings={"verify_count": probes, "verify_spacing": 0.0, "backoff": 0.5},
    )  # fmt: skip
    return [sys.executable, "-m", "keyreaper", "-w", str(root), "campaign", "run", "bench",
            "--targets", str(targets), "--no-progress"]  # fmt: skip


def main() -> None:
    n = int(os.environ.get("KR_BENCH_ROLES", "5000"))
    concurrency = int(os.environ.get("KR_BENCH_CONCURRENCY", "8"))
    probes = int(os.environ.get("KR_BENCH_PROBES", "1"))
    rounds = int(os.environ.get("KR_BENCH_ROUNDS", "2"))
    server = start_postgres()
    base = Path(tempfile.mkdtemp(prefix="kr-bench-rotate-"))
    try:
        dsn = server.dsn()
        os.environ["KR_BENCH_PG"] = dsn
        old = {
            Credential.make_id(
                "postgres", "db_role", f"bench_{i:05d}"
            ): f"BenchOld-{i:05d}-{os.urandom(6).hex()}"
            for i in range(n)
        }
        verifiers = {cid: scram_verifier(pw) for cid, pw in old.items()}
        with psycopg.connect(dsn, autocommit=True) as conn:
            for cid in old:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(cid.split(":", 2)[2]))
                )
        secrets_file = base / "old.json"
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(old, fh)
        env = {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
        bare = Runner(
            "bare psycopg loop",
            [
                sys.executable,
                str(REPO / "bench" / "rotate_bare.py"),
                str(secrets_file),
                str(concurrency),
                str(probes),
            ],
            env=env,
        )
        (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
        timings = {name: Timing(name, [], []) for name in ("keyreaper campaign run", bare.name)}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in timings}
        pid = int((server.datadir / "postmaster.pid").read_text().split()[0])
        load = [os.getloadavg()[0]]
        for _ in range(rounds):
            _reset(dsn, old, verifiers)
            argv = _workspace(base, old, "KR_BENCH_PG", concurrency, probes, secrets_file)
            for runner in (Runner("keyreaper campaign run", argv, env=env), bare):
                if runner is bare:
                    _reset(dsn, old, verifiers)
                wall, rss, client, srv = _measured(runner, pid)
                timings[runner.name].seconds.append(wall)
                timings[runner.name].peak_rss_mb.append(rss)
                cpu[runner.name].append((client, srv))
                load.append(os.getloadavg()[0])
        kr, ref = timings["keyreaper campaign run"], timings[bare.name]
        ratio = kr.median / ref.median
        pairs = ", ".join(
            f"{k:.1f} / {b:.1f} = {k / b:.2f}" for k, b in zip(kr.seconds, ref.seconds, strict=True)
        )

        def per_role(name: str) -> str:
            client = statistics.median(c for c, _ in cpu[name]) / n * 1000
            srv = statistics.median(s for _, s in cpu[name]) / n * 1000
            return f"client {client:.1f} ms + server {srv:.1f} ms"

        total = {name: statistics.median(c + s for c, s in cpu[name]) for name in cpu}
        report(
            f"rotate + verify {n} PostgreSQL roles, concurrency {concurrency}, {probes} refused probe(s) each",
            list(timings.values()), reference=bare.name,
            command=f"KR_BENCH_ROLES={n} KR_BENCH_CONCURRENCY={concurrency} KR_BENCH_PROBES={probes} KR_BENCH_ROUNDS={rounds} flock /work/bench.lock python bench/run.py rotate",
            notes=(f"keyreaper / bare wall-time ratio of the medians: {ratio:.2f} (target ≤ 1.3). Pairs in run "
                   f"order (keyreaper / bare, s): {pairs}. CPU per role (medians): keyreaper "
                   f"{per_role(kr.name)}, bare {per_role(ref.name)}; total CPU ratio "
                   f"{total[kr.name] / total[ref.name]:.2f}. Load average (1 min) before and after each "
                   f"run: {', '.join(f'{x:.1f}' for x in load)}. Both make at most {concurrency} calls to "
                   f"the server at once (keyreaper: {concurrency} call slots, 4 workers per slot so journal "
                   "writes overlap calls)."),
        )  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
