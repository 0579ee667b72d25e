"""A throwaway OpenSSH sshd on a free loopback port: its own config, host key and log, keys
read from an authorized_keys file in a temporary folder (AuthorizedKeysFile), for a test
user account (`nobody` when we are root, else ourselves). StrictModes stays on whenever the
folder's ancestors allow it (a world-writable /tmp does not), so sshd checks modes as in
production."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.servers.common import free_port, run, wait_for_port

SSHD = "/usr/sbin/sshd"


@dataclass
class SshdServer:
    port: int
    user: str
    base: Path
    authorized_keys: Path
    log: Path
    proc: subprocess.Popen[bytes]
    strict_modes: bool
    host: str = "127.0.0.1"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def _parent_for_strict_modes() -> Path:
    """A folder whose every ancestor is owned by root and not group/world-writable."""
    candidates = (
        [Path("/run"), Path("/var/lib"), Path.home()] if os.geteuid() == 0 else [Path.home()]
    )
    for candidate in candidates:
        ok = candidate.is_dir() and all(
            (p.stat().st_uid in (0, os.geteuid())) and not (p.stat().st_mode & 0o022)
            for p in [candidate, *candidate.parents]
        )
        if ok and os.access(candidate, os.W_OK):
            return candidate
    return Path(tempfile.gettempdir())


def start_sshd() -> SshdServer:
    if not Path(SSHD).exists():
        raise RuntimeError(f"{SSHD} not found (apt-get install openssh-server)")
    user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    entry = pwd.getpwnam(user)
    parent = _parent_for_strict_modes()
    base = Path(tempfile.mkdtemp(prefix="kr-sshd-", dir=parent))
    os.chmod(base, 0o755)  # noqa: S103 - sshd reads it as the test user
    strict = all(not (p.stat().st_mode & 0o022) for p in [base, *base.parents])
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    keys_dir = base / "keys"
    keys_dir.mkdir(mode=0o755)
    authorized = keys_dir / "authorized_keys"
    authorized.touch(mode=0o600)
    os.chmod(authorized, 0o600)
    if os.geteuid() == 0:
        os.chown(keys_dir, entry.pw_uid, entry.pw_gid)
        os.chown(authorized, entry.pw_uid, entry.pw_gid)
    host_key = base / "host_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)])
    port = free_port()
    log = base / "sshd.log"
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\nStrictModes {'yes' if strict else 'no'}\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"UsePAM no\nAllowUsers {user}\nLogLevel VERBOSE\nMaxStartups 100:30:200\n"
        "MaxSessions 50\nPermitRootLogin no\nUseDNS no\n"
    )
    os.chmod(config, 0o600)
    run([SSHD, "-t", "-f", str(config)])
    proc = subprocess.Popen(
        [SSHD, "-D", "-f", str(config), "-E", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return SshdServer(port, user, base, authorized, log, proc, strict)


__all__ = ["SshdServer", "start_sshd"]
