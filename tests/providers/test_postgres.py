"""PostgreSQL roles against a real server: rotate, old refused, new accepted, sessions gone,
and no plaintext password in the server's own log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from keyreaper.domain import Liveness, Secret
from keyreaper.providers.postgres import PostgresProvider, scram_verifier, verifier_matches
from keyreaper.workspace import Workspace
from tests.rotate.helpers import Bench, write_targets
from tests.servers.postgres import PostgresServer


def _make_roles(server: PostgresServer, names: list[str], password: str) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for n in names:
            conn.execute(f'DROP ROLE IF EXISTS "{n}"')
            conn.execute(f"CREATE ROLE \"{n}\" LOGIN PASSWORD '{password}{n}'")


def _login(server: PostgresServer, user: str, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=server.host, port=server.port, dbname="postgres", user=user, password=password
    )


def test_scram_verifier_matches_rfc_7677_vector() -> None:
    # RFC 7677 section 3: user "user", password "pencil", 4096 iterations.
    import base64

    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    v = scram_verifier("pencil", 4096, salt)
    assert v.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    assert verifier_matches(v, "pencil") and not verifier_matches(v, "pencil2")
    # That PostgreSQL accepts it is shown by the real logins in the scenario below.


def test_rotate_postgres_roles(
    sqlite_workspace: Workspace, tmp_path: Path, postgres_server: PostgresServer, capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    names = ["kr_app_a", "kr_app_b", "kr_app_c"]
    _make_roles(postgres_server, names, "OldCanary-")
    monkeypatch.setenv("KR_TEST_PG", postgres_server.dsn())
    provider = PostgresProvider(dsn=Secret(postgres_server.dsn()))
    creds = [c for c in provider.inventory() if c.name in names]
    assert len(creds) == 3
    bench = Bench(sqlite_workspace, tmp_path)
    bench.add(creds, {c.id: f"OldCanary-{c.name}" for c in creds})
    write_targets(
        bench.targets, {"postgres": {"dsn_env": "KR_TEST_PG", "concurrency": 2}},
        secrets=bench.secrets_file, sink_dir=bench.sink_dir,
    )  # fmt: skip
    held = _login(postgres_server, "kr_app_a", "OldCanary-kr_app_a")  # an old session

    assert bench.cli("campaign", "plan", "pg", "--select", "provider=postgres") == 0
    assert bench.run("pg") == 0
    out = capsys.readouterr()

    for c in creds:
        old = f"OldCanary-{c.name}"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            _login(postgres_server, c.name, old)
        new = bench.delivered(c.id)
        assert new and new != old
        _login(postgres_server, c.name, new).close()
        assert provider.probe(c, c.name, Secret(old)).liveness is Liveness.DEAD
    with pytest.raises(psycopg.OperationalError):
        held.execute("SELECT 1")  # terminated by revoke_sessions

    report = bench.status("pg", capsys)
    assert report["counts"]["dead"] == 3 and report["not_dead"] == []
    assert {s["step"] for s in report["step_times"]} >= {"preflight", "create", "verify_dead"}
    secrets = [f"OldCanary-{n}" for n in names] + [bench.delivered(c.id) for c in creds]
    assert bench.plaintext_leaks(secrets) == []
    assert not any(s in out.out + out.err for s in secrets)
    server_log = (postgres_server.datadir.parent / "log").read_text()
    assert not any(bench.delivered(c.id) in server_log for c in creds)


def test_revoke_without_replacement(postgres_server: PostgresServer) -> None:
    _make_roles(postgres_server, ["kr_unused"], "Old-")
    provider = PostgresProvider(dsn=Secret(postgres_server.dsn()))
    cred = next(c for c in provider.inventory() if c.name == "kr_unused")
    old = Secret("Old-kr_unused")
    assert provider.probe(cred, "kr_unused", old).liveness is Liveness.LIVE
    provider.revoke(cred, "kr_unused", old)
    provider.revoke(cred, "kr_unused", old)  # safe to repeat
    p = provider.probe(cred, "kr_unused", old)
    assert p.liveness is Liveness.DEAD and p.auth_refused


def test_unreachable_server_is_unknown_never_dead() -> None:
    from tests.servers.common import free_port

    provider = PostgresProvider(
        dsn=f"postgresql://x:y@127.0.0.1:{free_port()}/postgres", connect_timeout=2
    )
    from keyreaper.domain import Credential

    cred = Credential(
        id="postgres:db_role:x", provider="postgres", kind="db_role", identifiers=("x",)
    )
    p = provider.probe(cred, "x", Secret("whatever"))
    assert p.liveness is Liveness.UNKNOWN and not p.auth_refused


def test_precheck_agrees_with_a_real_login(postgres_server: PostgresServer) -> None:
    _make_roles(postgres_server, ["kr_pre"], "Pre-")
    provider = PostgresProvider(dsn=Secret(postgres_server.dsn()))
    cred = next(c for c in provider.inventory() if c.name == "kr_pre")
    for secret in ("Pre-kr_pre", "wrong"):
        pre = provider.precheck(cred, "kr_pre", Secret(secret))
        real = provider.probe(cred, "kr_pre", Secret(secret))
        assert (
            pre is not None
            and pre.liveness is real.liveness
            and pre.auth_refused == real.auth_refused
        )
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute('ALTER ROLE "kr_pre" NOLOGIN')
    pre = provider.precheck(cred, "kr_pre", Secret("Pre-kr_pre"))
    assert pre is not None and pre.liveness is Liveness.DEAD
    assert provider.probe(cred, "kr_pre", Secret("Pre-kr_pre")).liveness is Liveness.DEAD


def test_batch_forms_answer_each_role_as_the_single_forms_do(
    postgres_server: PostgresServer,
) -> None:
    names = ["kr_bat_a", "kr_bat_b", "kr_bat_c"]
    _make_roles(postgres_server, names, "Bat-")
    provider = PostgresProvider(dsn=Secret(postgres_server.dsn()))
    creds = {c.name: c for c in provider.inventory() if c.name in names}
    ghost = creds["kr_bat_c"].__class__(
        id="postgres:db_role:kr_bat_ghost", provider="postgres", kind="db_role",
        identifiers=("kr_bat_ghost",),
    )  # fmt: skip
    asked = [
        (creds["kr_bat_a"], "kr_bat_a", Secret("Bat-kr_bat_a")),  # right
        (creds["kr_bat_b"], "kr_bat_b", Secret("wrong")),  # wrong
        (ghost, "kr_bat_ghost", Secret("anything")),  # no such role
        (creds["kr_bat_c"], "kr_bat_c", Secret("Bat-kr_bat_c")),  # right
    ]
    answers = [f() for f in provider.precheck_many(asked)]
    for (cred, ident, secret), pre in zip(asked, answers, strict=True):
        real = provider.probe(cred, ident, secret)
        assert pre is not None and (pre.liveness, pre.auth_refused) == (
            real.liveness,
            real.auth_refused,
        )
    assert [a.liveness for a in answers if a] == [
        Liveness.LIVE, Liveness.DEAD, Liveness.DEAD, Liveness.LIVE,
    ]  # fmt: skip
    held = [_login(postgres_server, "kr_bat_a", "Bat-kr_bat_a") for _ in range(2)]
    held.append(_login(postgres_server, "kr_bat_b", "Bat-kr_bat_b"))
    wanted = [creds["kr_bat_a"], creds["kr_bat_b"], creds["kr_bat_c"], creds["kr_bat_a"]]
    assert provider.revoke_sessions_many(wanted) == [2, 1, 0, 2]
    for conn in held:
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert provider.revoke_sessions_many(wanted) == [0, 0, 0, 0]  # safe to repeat


def test_new_password_login_with_the_keys_of_the_installed_verifier(
    postgres_server: PostgresServer,
) -> None:
    _make_roles(postgres_server, ["kr_keys"], "Keys-")
    provider = PostgresProvider(dsn=Secret(postgres_server.dsn()))
    cred = next(c for c in provider.inventory() if c.name == "kr_keys")
    new = provider.generate(cred, "t")
    provider.install(cred, new)
    p = provider.probe(cred, "kr_keys", new.secret)
    assert p.liveness is Liveness.LIVE and "SCRAM keys" in p.evidence
    # A process that did not install it logs in with the password: the same answer.
    fresh = PostgresProvider(dsn=Secret(postgres_server.dsn()))
    p = fresh.probe(cred, "kr_keys", new.secret)
    assert p.liveness is Liveness.LIVE and "SCRAM keys" not in p.evidence
    # The old password never goes through keys: a real refusal by the server.
    old = provider.probe(cred, "kr_keys", Secret("Keys-kr_keys"))
    assert old.liveness is Liveness.DEAD and old.auth_refused
    # Someone else replaced the verifier: the keys of ours are refused, as the password is.
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE kr_keys PASSWORD '{scram_verifier('someone-else')}'")
    for prober in (provider, fresh):
        p = prober.probe(cred, "kr_keys", new.secret)
        assert p.liveness is Liveness.DEAD and p.auth_refused


def test_admin_connections_are_shared_not_one_per_thread(postgres_server: PostgresServer) -> None:
    import threading

    _make_roles(postgres_server, ["kr_pool"], "Pool-")
    provider = PostgresProvider(dsn=Secret(postgres_server.dsn()))
    cred = next(c for c in provider.inventory() if c.name == "kr_pool")
    for _ in range(3):  # one after the other, each from a new thread
        t = threading.Thread(target=provider.revoke_sessions, args=(cred,))
        t.start()
        t.join()
    assert provider._idle.qsize() == 1
