"""Rotation + verification of PostgreSQL roles: `keyreaper campaign run` against a bare
psycopg loop doing the same ALTER ROLE, new-login test and refused old-login probes, at the
same concurrency, on a throwaway server. Sizes: KR_BENCH_ROLES (default 5000),
KR_BENCH_CONCURRENCY (8), KR_BENCH_PROBES (1), KR_BENCH_ROUNDS (2)."""

from __future__ import annotations

import json
import os
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
        for _ in range(rounds):
            _reset(dsn, old, verifiers)
            argv = _workspace(base, old, "KR_BENCH_PG", concurrency, probes, secrets_file)
            wall, rss, _ = _run_once(Runner("keyreaper campaign run", argv, env=env))
            timings["keyreaper campaign run"].seconds.append(wall)
            timings["keyreaper campaign run"].peak_rss_mb.append(rss)
            _reset(dsn, old, verifiers)
            wall, rss, _ = _run_once(bare)
            timings[bare.name].seconds.append(wall)
            timings[bare.name].peak_rss_mb.append(rss)
        ratio = timings["keyreaper campaign run"].median / timings[bare.name].median
        pairs = ", ".join(
            f"{k:.1f} / {b:.1f} = {k / b:.2f}"
            for k, b in zip(
                timings["keyreaper campaign run"].seconds, timings[bare.name].seconds, strict=True
            )
        )
        report(
            f"rotate + verify {n} PostgreSQL roles, concurrency {concurrency}, {probes} refused probe(s) each",
            list(timings.values()), reference=bare.name,
            command=f"KR_BENCH_ROLES={n} KR_BENCH_CONCURRENCY={concurrency} KR_BENCH_PROBES={probes} python bench/run.py rotate",
            notes=(f"keyreaper / bare wall-time ratio: {ratio:.2f} (target ≤ 1.3). Pairs in run order "
                   f"(keyreaper / bare, s): {pairs}. Both make at most {concurrency} calls to the server at "
                   f"once (keyreaper: {concurrency} call slots, 4 workers per slot so journal writes overlap "
                   "calls). keyreaper also checks at preflight that the old secret matches the role's stored "
                   "SCRAM verifier (one PBKDF2, no login), journals every step durably (SQLite, "
                   "synchronous=FULL, group commit), ends the role's sessions and writes each new secret to a "
                   "0600 file sink."),
        )  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
