"""Sinks, sealed secrets, rate limits, sources and the targets file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from keyreaper.domain import Credential, Secret
from keyreaper.errors import InputError, KeyreaperError, WorkspaceError
from keyreaper.plugins import NewSecret
from keyreaper.providers.blockers import TargetUnavailable
from keyreaper.rotate.engine import Engine
from keyreaper.rotate.journal import Journal
from keyreaper.rotate.ratelimit import RateLimiter, retry_after
from keyreaper.rotate.sealed import KEY_FILE, Sealed, SealKeys
from keyreaper.rotate.sources import EnvSource, FileSource
from keyreaper.rotate.targets import Settings, Target, Targets, load
from keyreaper.sinks.command import CommandSink
from keyreaper.sinks.dotenv import DotenvSink
from keyreaper.sinks.file import TEMP_DIR, FileSink
from keyreaper.workspace import Workspace

CRED = Credential(
    id="postgres:db_role:app", provider="postgres", kind="db_role", identifiers=("app",), name="app"
)
NEW = NewSecret("app", Secret('N3w-Secret value with $pecial "chars"'), "t")


def test_file_sink_is_private_and_atomic(tmp_path: Path) -> None:
    sink = FileSink(dir=str(tmp_path / "out"))
    receipt = sink.deliver(CRED, NEW)
    path = Path(receipt)
    assert path.read_text() == NEW.secret.reveal() + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    sink.deliver(CRED, NEW)  # repeatable
    temps = path.parent / TEMP_DIR
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, TEMP_DIR])
    assert list(temps.iterdir()) == []  # no temp file left
    assert stat.S_IMODE(temps.stat().st_mode) == 0o700
    # A writer SIGKILLed before its rename left a temporary copy: the next write removes it.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = temps / f".{path.name}.{dead.pid}.keyreaper-x1y2"
    stale.write_text("secret-of-a-killed-writer\n")
    alive = temps / f".{path.name}.{os.getppid()}.keyreaper-x1y2"  # a live writer's
    alive.write_text("being written\n")
    sink.deliver(CRED, NEW)
    assert not stale.exists() and alive.exists()


def test_dotenv_updates_one_key_in_place(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# app settings\nDB_HOST=db.internal\nexport APP=old\nOTHER='keep me'\nAPP=dup\n"
    )
    sink = DotenvSink(path=str(env), key="{name}")
    assert sink.deliver(CRED, NEW) == f"{env}#APP"
    lines = env.read_text().splitlines()
    assert lines[:2] == ["# app settings", "DB_HOST=db.internal"]
    assert lines[2].startswith('export APP="N3w-Secret value with \\$pecial \\"chars\\""')
    assert lines[3] == "OTHER='keep me'" and len(lines) == 4
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    DotenvSink(path=str(env), key="NEW_KEY").deliver(CRED, NewSecret("app", Secret("plain"), "t"))
    assert env.read_text().splitlines()[-1] == "NEW_KEY=plain"


def test_command_sink_gets_secret_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got"
    script = f"import sys,os; open({str(out)!r},'w').write(sys.stdin.read()+'|'+os.environ['KR_CREDENTIAL_ID']); print('stored v7')"
    helper = tmp_path / "sink.py"
    helper.write_text(script)
    sink = CommandSink(command=f"{sys.executable} {helper}")
    assert sink.deliver(CRED, NEW) == "stored v7"
    assert out.read_text() == NEW.secret.reveal() + "|" + CRED.id
    failing = CommandSink(command=f"{sys.executable} -c 'import sys; sys.exit(4)'")
    with pytest.raises(KeyreaperError, match="exited 4"):
        failing.deliver(CRED, NEW)


def test_sealed_secrets_bind_to_their_item(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    keys = SealKeys(ws.root / "keys" / KEY_FILE)
    assert stat.S_IMODE((ws.root / "keys" / KEY_FILE).stat().st_mode) == 0o600
    sealed = Sealed(ws.db, keys)
    sealed.put("c", CRED.id, "create", NEW)
    got = sealed.get("c", CRED.id)
    assert got is not None and got.secret == NEW.secret and got.identifier == "app"
    raw = ws.db.query("SELECT * FROM campaign_sealed")[0]
    assert NEW.secret.reveal() not in str(raw)
    # Moved to another item, the ciphertext does not open.
    ws.db.execute("UPDATE campaign_sealed SET credential_id = 'other'")
    with pytest.raises(WorkspaceError, match="does not decrypt"):
        sealed.get("c", "other")


def test_retry_after_headers() -> None:
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"X-Rate-Limit-Reset": "1000"}, now=990.0) == 10.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after({}) is None


def test_limiter_paces_and_pauses() -> None:
    lim = RateLimiter(rate=50)
    start = time.monotonic()
    for _ in range(11):
        lim.acquire()
    assert time.monotonic() - start >= 0.19
    lim.pause(0.3)
    start = time.monotonic()
    lim.acquire()
    assert time.monotonic() - start >= 0.25


def test_engine_call_honours_retry_after(sqlite_workspace: Workspace) -> None:
    target = Target("okta", provider=None, sink=None)  # type: ignore[arg-type]
    eng = Engine(Journal(sqlite_workspace.db, "c", threading.RLock()), Targets({}, None, Settings()),
                 None, sqlite_workspace.fingerprinter)  # type: ignore[arg-type]  # fmt: skip

    def throttled() -> None:
        raise TargetUnavailable("429 Too Many Requests", retry_after=0.4)

    with pytest.raises(TargetUnavailable):
        eng.call(target, throttled)
    assert target.limiter.paused_for > 0.3


def test_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "s.json"
    f.write_text('{"postgres:db_role:app": "pw"}')
    f.chmod(0o644)
    with pytest.raises(KeyreaperError, match="readable by others"):
        FileSource(f).get(CRED)
    f.chmod(0o600)
    assert FileSource(f).get(CRED) == Secret("pw")
    f.write_text('{"broken": ')
    with pytest.raises(InputError, match=r"s\.json:1"):
        FileSource(f).get(CRED)
    monkeypatch.setenv("KEYREAPER_SECRET_POSTGRES_DB_ROLE_APP", "from-env")
    assert EnvSource().get(CRED) == Secret("from-env")


def test_targets_file_errors_name_the_place(tmp_path: Path) -> None:
    t = tmp_path / "targets.toml"
    t.write_text('[providers.pg]\ntype = "postgres"\ndsn_env = "NOT_SET_ANYWHERE"\n')
    with pytest.raises(InputError, match=r"providers\.pg.*NOT_SET_ANYWHERE"):
        load(t)
    t.write_text('[providers.x]\ntype = "nosuch"\n')
    with pytest.raises(InputError, match="unknown type 'nosuch'"):
        load(t)
    t.write_text("[campaign]\nverify_count = 4\nbogus = 1\n")
    with pytest.raises(InputError, match=r"campaign\.bogus"):
        load(t)
    t.write_text("not toml [")
    with pytest.raises(InputError, match="invalid TOML"):
        load(t)
    os.environ.pop("NOT_SET_ANYWHERE", None)


def test_group_commit_isolates_a_failing_job(sqlite_workspace: Workspace) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from keyreaper.rotate.commit import GroupCommit

    db = sqlite_workspace.db
    db.execute("CREATE TABLE gc (n INTEGER PRIMARY KEY)")
    gc = GroupCommit(db, threading.RLock())

    def job(n: int) -> str:
        def write() -> None:
            db.execute("INSERT INTO gc (n) VALUES (?)", (n,))
            if n % 10 == 3:
                db.execute("INSERT INTO gc (n) VALUES (?)", (n,))  # duplicate: this job fails

        try:
            gc.run(write)
            return "ok"
        except Exception:
            return "failed"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(job, range(200)))
    assert results.count("failed") == 20
    rows = {r["n"] for r in db.query("SELECT n FROM gc")}
    assert rows == {n for n in range(200) if n % 10 != 3}  # the failing jobs left nothing behind
