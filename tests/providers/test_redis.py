"""Redis ACL users against a real redis-server: rotate, old refused, new accepted, clients gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from keyreaper.domain import Liveness, Secret
from keyreaper.providers.redis import RedisProvider, password_hash
from keyreaper.workspace import Workspace
from tests.rotate.helpers import Bench, write_targets
from tests.servers.redis import ADMIN, RedisServer


def _client(server: RedisServer, user: str, password: str) -> redis.Redis:
    return redis.Redis(
        port=server.port, username=user, password=password, retry=Retry(NoBackoff(), 0)
    )


def _provider(server: RedisServer) -> RedisProvider:
    return RedisProvider(port=server.port, username=ADMIN, password=Secret(server.password))


def test_rotate_redis_users(
    sqlite_workspace: Workspace, tmp_path: Path, redis_server: RedisServer, capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    admin = redis_server.admin()
    users = ["svc_cache", "svc_queue"]
    for u in users:
        admin.execute_command("ACL", "SETUSER", u, "reset", "on", f">RedisOld-{u}", "~*", "+@all")
    provider = _provider(redis_server)
    creds = [c for c in provider.inventory() if c.name in users]
    assert len(creds) == 2
    bench = Bench(sqlite_workspace, tmp_path)
    bench.add(creds, {c.id: f"RedisOld-{c.name}" for c in creds})
    monkeypatch.setenv("KR_TEST_REDIS_PW", redis_server.password)
    write_targets(
        bench.targets,
        {"redis": {"port": redis_server.port, "username": ADMIN, "password_env": "KR_TEST_REDIS_PW"}},
        secrets=bench.secrets_file, sink_dir=bench.sink_dir,
    )  # fmt: skip
    held = _client(redis_server, "svc_cache", "RedisOld-svc_cache")
    held.ping()

    assert bench.cli("campaign", "plan", "rd", "--all") == 0
    assert bench.run("rd") == 0

    for c in creds:
        with pytest.raises(redis.AuthenticationError):
            _client(redis_server, c.name, f"RedisOld-{c.name}").ping()
        new = bench.delivered(c.id)
        assert _client(redis_server, c.name, new).ping()
        # Exactly one password left, the delivered one: nothing of ours is orphaned.
        assert provider.hashes(c.name) == [password_hash(Secret(new))]
    assert not any(
        cl["user"] == "svc_cache" and cl["id"] != "" for cl in _clients_of(admin, "svc_cache", held)
    )
    report = bench.status("rd", capsys)
    assert report["counts"]["dead"] == 2
    assert (
        bench.plaintext_leaks(
            [f"RedisOld-{u}" for u in users] + [bench.delivered(c.id) for c in creds]
        )
        == []
    )


def _clients_of(admin: Any, user: str, held: redis.Redis) -> list[dict[str, Any]]:
    """The held connection was killed: its next command reconnects with the old password,
    which is refused; the server lists no client of the user from before."""
    with pytest.raises((redis.AuthenticationError, redis.ConnectionError)):
        held.ping()
    return [c for c in admin.client_list() if c["user"] == user]


def test_install_and_revoke_are_idempotent(redis_server: RedisServer) -> None:
    admin = redis_server.admin()
    admin.execute_command("ACL", "SETUSER", "svc_idem", "reset", "on", ">old-idem", "~*", "+@all")
    provider = _provider(redis_server)
    cred = next(c for c in provider.inventory() if c.name == "svc_idem")
    new = provider.generate(cred, "t")
    provider.install(cred, new)
    provider.install(cred, new)
    assert len(provider.hashes("svc_idem")) == 2
    provider.revoke(cred, "svc_idem", Secret("old-idem"))
    provider.revoke(cred, "svc_idem", Secret("old-idem"))
    assert provider.hashes("svc_idem") == [password_hash(new.secret)]
    assert provider.probe(cred, "svc_idem", Secret("old-idem")).liveness is Liveness.DEAD
    assert provider.probe(cred, "svc_idem", new.secret).liveness is Liveness.LIVE


def test_discover_pulls_acl_users(
    sqlite_workspace: Workspace, tmp_path: Path, redis_server: RedisServer, capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    redis_server.admin().execute_command(
        "ACL", "SETUSER", "svc_found", "on", ">x-found", "~*", "+@all"
    )
    bench = Bench(sqlite_workspace, tmp_path)
    monkeypatch.setenv("KR_TEST_REDIS_PW", redis_server.password)
    write_targets(
        bench.targets,
        {"redis": {"port": redis_server.port, "username": ADMIN, "password_env": "KR_TEST_REDIS_PW"}},
        secrets=bench.secrets_file, sink_dir=bench.sink_dir,
    )  # fmt: skip
    capsys.readouterr()
    assert bench.cli("campaign", "discover", "--targets", str(bench.targets), "--json") == 0
    ids = {r["id"] for r in json.loads(capsys.readouterr().out)}
    assert "redis:password:svc_found" in ids and f"redis:password:{ADMIN}" not in ids
    assert sqlite_workspace.db.query(
        "SELECT id FROM credentials WHERE id = 'redis:password:svc_found'"
    )
