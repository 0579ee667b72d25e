"""OpenSSH authorized_keys against a real sshd: rotate, old key refused at login, new key
logs in, sessions opened with the old key ended."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import paramiko
import pytest

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.providers.ssh import SshProvider, fingerprint, line_fingerprint
from keyreaper.workspace import Workspace
from tests.rotate.helpers import Bench, write_targets
from tests.servers.sshd import SshdServer


def _provider(server: SshdServer) -> SshProvider:
    return SshProvider(
        files=[f"{server.user}:{server.authorized_keys}"], port=server.port, log=str(server.log)
    )


def _login(server: SshdServer, private: str) -> paramiko.Transport:
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(private))
    t = paramiko.Transport((server.host, server.port))
    t.start_client(timeout=10)
    t.auth_publickey(server.user, key)
    return t


def _seed(provider: SshProvider, server: SshdServer, n: int) -> list[tuple[Credential, str]]:
    server.authorized_keys.write_text("")
    blank = Credential(
        id="seed", provider="ssh", kind="ssh_key", identifiers=("x",), extra={"user": server.user}
    )
    keys = []
    for i in range(n):
        new = provider.generate(blank, f"old-key-{i}")
        provider.install(blank, new)
        keys.append(new.secret.reveal())
    by_fp = {c.identifiers[0]: c for c in provider.inventory()}
    return [(by_fp[_fp_of(k)], k) for k in keys]


def _fp_of(private: str) -> str:
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(private))
    return fingerprint(key.asbytes())


def test_rotate_ssh_keys(
    sqlite_workspace: Workspace, tmp_path: Path, sshd_server: SshdServer, capsys: Any
) -> None:
    provider = _provider(sshd_server)
    seeded = _seed(provider, sshd_server, 3)
    creds = [c for c, _ in seeded]
    bench = Bench(sqlite_workspace, tmp_path)
    bench.add(creds, {c.id: k for c, k in seeded})
    write_targets(
        bench.targets,
        {"ssh": {"files": [f"{sshd_server.user}:{sshd_server.authorized_keys}"], "port": sshd_server.port,
                 "log": str(sshd_server.log)}},
        secrets=bench.secrets_file, sink_dir=bench.sink_dir,
    )  # fmt: skip
    held = _login(sshd_server, seeded[0][1])
    assert held.is_active()

    assert bench.cli("campaign", "plan", "keys", "--select", "kind=ssh_key") == 0
    assert bench.run("keys") == 0

    for cred, old in seeded:
        with pytest.raises(paramiko.AuthenticationException):
            _login(sshd_server, old)
        new = bench.delivered(cred.id)
        _login(sshd_server, new).close()
        assert provider.probe(cred, cred.identifiers[0], Secret(old)).auth_refused
    assert not held.is_active()  # the session opened with the old key was ended
    lines = [line for line in sshd_server.authorized_keys.read_text().splitlines() if line.strip()]
    assert len(lines) == 3  # one new key per credential, no old key, no orphan
    assert {line_fingerprint(x) for x in lines} == {_fp_of(bench.delivered(c.id)) for c in creds}
    assert (sshd_server.authorized_keys.stat().st_mode & 0o777) == 0o600
    report = bench.status("keys", capsys)
    assert report["counts"]["dead"] == 3
    assert bench.plaintext_leaks([k for _, k in seeded]) == []


def test_fingerprint_matches_ssh_keygen(sshd_server: SshdServer, tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(key) + ".pub"], check=True, capture_output=True, text=True
    )
    assert line_fingerprint((tmp_path / "k.pub").read_text()) == out.stdout.split()[1]
    assert (
        line_fingerprint('from="10.0.0.1",no-pty ' + (tmp_path / "k.pub").read_text())
        == out.stdout.split()[1]
    )


def test_tagged_orphans_are_found_and_discarded(sshd_server: SshdServer) -> None:
    provider = _provider(sshd_server)
    sshd_server.authorized_keys.write_text("")
    cred = Credential(
        id="c", provider="ssh", kind="ssh_key", identifiers=("x",), extra={"user": sshd_server.user}
    )
    new = provider.create(cred, "keyreaper:camp:c")
    assert provider.probe(cred, new.identifier, new.secret).liveness is Liveness.LIVE
    assert provider.created_by_us(cred, "keyreaper:camp:c") == [new.identifier]
    provider.discard(cred, new.identifier)
    assert provider.created_by_us(cred, "keyreaper:camp:c") == []
    assert provider.probe(cred, new.identifier, new.secret).liveness is Liveness.DEAD
