"""Kill the campaign runner with SIGKILL again and again, resume each time, then check the
servers' own state. Used by tests/rotate/test_crash.py (CI size) and bench/ (big size).

The runner is a forked child of this process (the modules are already imported, so a run
starts in milliseconds); it opens its own state store and its own target connections, as a
fresh `keyreaper campaign run` would. Kills come from named crash points inside the child
(every step boundary, and between a target call and its journal write) and from the parent
at random times."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import psycopg
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.backoff import NoBackoff
from redis.retry import Retry

from keyreaper import rotate
from keyreaper.domain import STEPS, Credential, Secret
from keyreaper.inventory import repo
from keyreaper.providers.redis import password_hash
from keyreaper.providers.ssh import fingerprint, line_fingerprint, parse_line
from keyreaper.rotate import runner, targets
from keyreaper.rotate import status as campaign_status
from keyreaper.rotate.journal import CrashPoints
from keyreaper.rotate.plan import plan
from keyreaper.workspace import Workspace
from tests.rotate.helpers import write_targets
from tests.servers.postgres import PostgresServer
from tests.servers.redis import ADMIN, RedisServer
from tests.servers.sshd import SshdServer

CAMPAIGN = "crash"
NAMED = [f"before:{s}" for s in STEPS if s != "watch"]
NAMED += [f"after-call:{s}" for s in STEPS if s != "watch"] + ["create:sealed"]
# Batched steps (PostgreSQL): killed after the shared call answered, before any outcome line.
NAMED += ["after-batch:preflight", "after-batch:revoke_sessions"]


@dataclass
class Fleet:
    old: dict[str, str] = field(default_factory=dict)
    creds: list[Credential] = field(default_factory=list)
    excepted: str = ""


def build(ws: Workspace, tmp: Path, pg: PostgresServer, rd: RedisServer, ssh: SshdServer,
          n_pg: int, n_redis: int, n_ssh: int) -> Fleet:  # fmt: skip
    fleet = Fleet()
    tag = f"r{os.getpid()}x{random.randrange(10**6)}"
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        for i in range(n_pg):
            name = f"crash_{tag}_{i:05d}"
            secret = f"PgOld{tag}{i:05d}canary"
            conn.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{secret}'")
            cid = Credential.make_id("postgres", "db_role", name)
            fleet.creds.append(
                Credential(id=cid, provider="postgres", kind="db_role", identifiers=(name,))
            )
            fleet.old[cid] = secret
    admin = rd.admin()
    pipe = admin.pipeline(transaction=False)
    for i in range(n_redis):
        name = f"crash_{tag}_{i:05d}"
        secret = f"RdOld{tag}{i:05d}canary"
        pipe.execute_command("ACL", "SETUSER", name, "reset", "on", f">{secret}", "~*", "+@all")
        cid = Credential.make_id("redis", "password", name)
        fleet.creds.append(
            Credential(id=cid, provider="redis", kind="password", identifiers=(name,))
        )
        fleet.old[cid] = secret
    pipe.execute()
    lines = []
    for i in range(n_ssh):
        key = Ed25519PrivateKey.generate()
        pub = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        fp = fingerprint(base64.b64decode(pub.split()[1]))
        lines.append(f"{pub.decode()} old-{i}")
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        cid = Credential.make_id("ssh", "ssh_key", f"{ssh.user}/{fp}")
        fleet.creds.append(Credential(id=cid, provider="ssh", kind="ssh_key", identifiers=(fp,),
                                      owner=ssh.user, extra={"user": ssh.user}))  # fmt: skip
        fleet.old[cid] = private
    ssh.authorized_keys.write_text("\n".join(lines) + "\n")
    repo.upsert(ws.db, fleet.creds, "crash-test")
    secrets_file = tmp / "old-secrets.json"
    fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(fleet.old, fh)
    os.environ["KR_CRASH_PG"] = pg.dsn()
    os.environ["KR_CRASH_REDIS"] = rd.password
    write_targets(
        tmp / "targets.toml",
        {
            "postgres": {"dsn_env": "KR_CRASH_PG", "concurrency": 4},
            "redis": {"port": rd.port, "username": ADMIN, "password_env": "KR_CRASH_REDIS", "concurrency": 4},
            "ssh": {"files": [f"{ssh.user}:{ssh.authorized_keys}"], "port": ssh.port, "log": str(ssh.log),
                    "concurrency": 2},
        },
        secrets=secrets_file, sink_dir=tmp / "delivered",
        settings={"verify_count": 2, "verify_spacing": 0.0, "backoff": 0.05, "max_attempts": 50},
    )  # fmt: skip
    plan(ws.db, CAMPAIGN, everything=True)
    fleet.excepted = fleet.creds[1].id
    journal = rotate.journal(ws, CAMPAIGN)
    rotate.exceptions.grant(journal, fleet.excepted, "held for the test", "qa", "2999-01-01")
    return fleet


def _child(root: Path, tmp: Path, crash: str) -> None:
    code = 1
    try:
        ws = Workspace(root)
        eng = rotate.engine(ws, CAMPAIGN, targets.load(tmp / "targets.toml"), CrashPoints(crash))
        with rotate.run_lock(ws, CAMPAIGN):
            counts = runner.run(eng, poll=0.01)
        code = 0 if counts["dead"] + counts["excepted"] == counts["total"] else 3
    finally:
        os._exit(code)


def run_once(root: Path, tmp: Path, crash: str = "", kill_after: float | None = None) -> int:
    """One runner life; returns its wait status (-9 when killed)."""
    pid = os.fork()
    if pid == 0:
        _child(root, tmp, crash)
    if kill_after is not None:
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.005)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def torture(
    root: Path, tmp: Path, kills: int, seed: int = 7, named_rounds: int = 2
) -> dict[str, int]:
    """Every named point `named_rounds` times (at different hit counts), then random kills
    until `kills` in all, then a clean run to the end."""
    rng = random.Random(seed)
    got = {"named": 0, "random": 0, "runs": 0}
    for r in range(named_rounds):
        for point in NAMED:
            nth = 1 if r == 0 else rng.randint(2, 30)
            code = run_once(root, tmp, f"{point}#{nth}")
            got["runs"] += 1
            got["named"] += code == -signal.SIGKILL
    while got["named"] + got["random"] < kills:
        code = run_once(root, tmp, kill_after=rng.uniform(0.01, 0.35))
        got["runs"] += 1
        if code == -signal.SIGKILL:
            got["random"] += 1
        elif code == 0:
            break  # finished before we could kill it: nothing left to interrupt
    for _ in range(5):
        got["runs"] += 1
        if run_once(root, tmp) == 0:
            break
    return got


def _no_retry(port: int, user: str, password: str) -> redis.Redis:
    return redis.Redis(port=port, username=user, password=password, retry=Retry(NoBackoff(), 0))


def check(
    ws: Workspace, tmp: Path, fleet: Fleet, pg: PostgresServer, rd: RedisServer, ssh: SshdServer
) -> list[str]:
    """The invariants, checked against the servers; returns every violation found."""
    bad: list[str] = []
    items = {
        r["credential_id"]: r
        for r in ws.db.query("SELECT * FROM campaign_items WHERE campaign = ?", (CAMPAIGN,))
    }
    generated: dict[str, int] = {}
    for r in ws.db.query(
        "SELECT subject FROM audit_log WHERE action = 'campaign.create' AND outcome = 'generated'"
    ):
        generated[r["subject"]] = generated.get(r["subject"], 0) + 1
    delivered_dir = tmp / "delivered"
    admin = rd.admin()
    keys_lines = [x for x in ssh.authorized_keys.read_text().splitlines() if x.strip()]
    key_fps = [line_fingerprint(x) for x in keys_lines]
    ours = [(parse_line(x) or ("", "", ""))[2] for x in keys_lines]
    for c in fleet.creds:
        state = items[c.id]["state"]
        if c.id == fleet.excepted:
            if state != "excepted":
                bad.append(f"{c.id}: excepted item is {state}")
            continue
        if state != "dead":
            bad.append(f"{c.id}: {state} at {items[c.id]['step']}: {items[c.id]['last_error']}")
            continue
        if generated.get(f"{CAMPAIGN}/{c.id}", 0) != 1:
            bad.append(f"{c.id}: rotated {generated.get(f'{CAMPAIGN}/{c.id}', 0)} times")
        from keyreaper.sinks.file import _UNSAFE

        new = (delivered_dir / _UNSAFE.sub("_", c.id)).read_text().rstrip("\n")
        old = fleet.old[c.id]
        ident = c.identifiers[0]
        if c.provider == "postgres":
            try:
                psycopg.connect(
                    host=pg.host, port=pg.port, dbname="postgres", user=ident, password=old
                ).close()
                bad.append(f"{c.id}: old password still logs in")
            except psycopg.OperationalError as exc:
                if "password authentication failed" not in str(exc):
                    bad.append(f"{c.id}: old login failed oddly: {exc}")
            try:
                psycopg.connect(
                    host=pg.host, port=pg.port, dbname="postgres", user=ident, password=new
                ).close()
            except psycopg.OperationalError:
                bad.append(f"{c.id}: delivered password does not work")
        elif c.provider == "redis":
            hashes = admin.acl_getuser(ident)["passwords"]
            if hashes != [password_hash(Secret(new))]:
                bad.append(
                    f"{c.id}: redis holds {len(hashes)} password(s), not exactly the delivered one"
                )
            try:
                _no_retry(rd.port, ident, old).ping()
                bad.append(f"{c.id}: old redis password still works")
            except redis.AuthenticationError:
                pass
            if not _no_retry(rd.port, ident, new).ping():
                bad.append(f"{c.id}: delivered redis password does not work")
        else:
            new_fp = fingerprint(paramiko.Ed25519Key.from_private_key(io.StringIO(new)).asbytes())
            if ident in key_fps:
                bad.append(f"{c.id}: old key still in authorized_keys")
            if key_fps.count(new_fp) != 1:
                bad.append(f"{c.id}: delivered key present {key_fps.count(new_fp)} times")
            tagged = [
                fp
                for fp, t in zip(key_fps, ours, strict=True)
                if t == f"keyreaper:{CAMPAIGN}:{c.id}"
            ]
            if tagged != [new_fp]:
                bad.append(f"{c.id}: keys of ours for it: {len(tagged)} (orphans)")
    return bad


def ssh_logins(fleet: Fleet, tmp: Path, ssh: SshdServer, limit: int) -> list[str]:
    """Real logins through sshd for the SSH items: old refused, delivered accepted."""
    from keyreaper.sinks.file import _UNSAFE

    bad = []
    for c in [c for c in fleet.creds if c.provider == "ssh" and c.id != fleet.excepted][:limit]:
        for secret, want in (
            (fleet.old[c.id], False),
            ((tmp / "delivered" / _UNSAFE.sub("_", c.id)).read_text(), True),
        ):
            key = paramiko.Ed25519Key.from_private_key(io.StringIO(secret))
            t = paramiko.Transport((ssh.host, ssh.port))
            try:
                t.start_client(timeout=10)
                t.auth_publickey(ssh.user, key)
                ok = True
            except paramiko.AuthenticationException:
                ok = False
            finally:
                t.close()
            if ok != want:
                bad.append(
                    f"{c.id}: {'delivered' if want else 'old'} key login {'refused' if want else 'accepted'}"
                )
    return bad


def summary(ws: Workspace) -> dict[str, Any]:
    return dict(campaign_status.status(rotate.journal(ws, CAMPAIGN))["counts"])
