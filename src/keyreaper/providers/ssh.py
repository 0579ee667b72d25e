"""OpenSSH authorized_keys. A key is named by its fingerprint as sshd logs it (SHA256:...).
Rotation makes a new ed25519 key pair here, delivers the private key to a sink, adds the
public key (commented with our tag), then removes the old line. A probe is a real login."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.extras import require
from keyreaper.plugins import NewSecret, Probe
from keyreaper.providers.blockers import TargetUnavailable

_KEY_TYPES = re.compile(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[\w@.-]+)$")
# sshd's line for an accepted key, in its own log (-E) or syslog alike; the client's address
# and port name the TCP connection, whose socket leads to the session's processes.
_ACCEPTED = re.compile(
    r"Accepted publickey for (\S+) from (\S+) port (\d+) ssh2: \S+ (SHA256:[A-Za-z0-9+/]+)"
)
_FILE_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def fingerprint(blob: bytes) -> str:
    """SHA256:<unpadded base64> — the form sshd writes in its log."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_line(line: str) -> tuple[str, str, str] | None:
    """(key type, base64 blob, comment) of an authorized_keys line, options skipped."""
    parts = line.strip().split()
    if not parts or parts[0].startswith("#"):
        return None
    for i, part in enumerate(parts[:-1]):
        if _KEY_TYPES.match(part):
            return part, parts[i + 1], " ".join(parts[i + 2 :])
    return None


def line_fingerprint(line: str) -> str | None:
    parsed = parse_line(line)
    if parsed is None:
        return None
    try:
        return fingerprint(base64.b64decode(parsed[1], validate=True))
    except ValueError:
        return None


def _lock(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path), threading.Lock())


class SshProvider:
    """`files`: authorized_keys paths, each `user:path`; `host`/`port` of the sshd that reads
    them; `log`: sshd's log (LogLevel VERBOSE) to find sessions opened with a key."""

    name = "ssh"
    kinds = ("ssh_key",)

    def __init__(
        self,
        *,
        files: list[str],
        host: str = "127.0.0.1",
        port: int = 22,
        log: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._paramiko = require("paramiko", "ssh")
        self.files: dict[str, Path] = {}
        for spec in files:
            user, sep, path = spec.partition(":")
            if not sep:
                raise ValueError(f"files entry {spec!r} must be user:path")
            self.files[user] = Path(path)
        self.host = host
        self.port = port
        self.log = Path(log) if log else None
        self.timeout = timeout

    def _file(self, credential: Credential) -> tuple[str, Path]:
        user = str(credential.extra.get("user") or credential.owner)
        if user not in self.files:
            raise TargetUnavailable(f"no authorized_keys file configured for user {user!r}")
        return user, self.files[user]

    def inventory(self) -> Iterator[Credential]:
        for user, path in self.files.items():
            for n, line in enumerate(path.read_text().splitlines(), 1):
                fp = line_fingerprint(line)
                if fp is None:
                    continue
                parsed = parse_line(line)
                yield Credential(
                    id=Credential.make_id(self.name, "ssh_key", f"{user}/{fp}"),
                    provider=self.name,
                    kind="ssh_key",
                    identifiers=(fp,),
                    name=parsed[2] if parsed else "",
                    owner=user,
                    extra={"user": user, "file": str(path), "line": n},
                )

    def _load_key(self, secret: Secret) -> Any:
        p = self._paramiko
        for cls in (p.Ed25519Key, p.ECDSAKey, p.RSAKey):
            try:
                return cls.from_private_key(io.StringIO(secret.reveal()))
            except (p.SSHException, ValueError):
                continue
        raise ValueError("the secret is not a private key paramiko can read")

    def probe(self, credential: Credential, identifier: str, secret: Secret) -> Probe:
        p = self._paramiko
        user = str(credential.extra.get("user") or credential.owner)
        try:
            key = self._load_key(secret)
        except ValueError as exc:
            return Probe(Liveness.UNKNOWN, str(exc))
        transport = None
        try:
            transport = p.Transport((self.host, self.port))
            transport.banner_timeout = self.timeout
            transport.start_client(timeout=self.timeout)
            transport.auth_publickey(user, key)
        except p.AuthenticationException as exc:
            return Probe(
                Liveness.DEAD, f"sshd refused key {identifier} for {user}: {exc}", auth_refused=True
            )
        except (p.SSHException, OSError, EOFError) as exc:
            return Probe(Liveness.UNKNOWN, f"ssh {self.host}:{self.port} unreachable: {exc}")
        finally:
            if transport is not None:
                transport.close()
        return Probe(Liveness.LIVE, f"ssh login as {user} with {identifier} succeeded")

    def generate(self, credential: Credential, tag: str) -> NewSecret:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        blob = base64.b64decode(public.split()[1])
        return NewSecret(fingerprint(blob), Secret(private), tag)

    def _public_line(self, new: NewSecret) -> str:
        key = self._load_key(new.secret)
        return f"{key.get_name()} {key.get_base64()} {new.tag}"

    def _rewrite(self, path: Path, keep: Any, add: str | None = None) -> bool:
        """Atomically rewrite `path` keeping lines for which keep(line) is true, plus `add`."""
        with _lock(path):
            lines = path.read_text().splitlines()
            kept = [line for line in lines if keep(line)]
            if add is not None:
                kept.append(add)
            if kept == lines:
                return False
            st = path.stat()
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keyreaper-")
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write("\n".join(kept) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, st.st_mode & 0o777)
                if os.geteuid() == 0:
                    os.chown(tmp, st.st_uid, st.st_gid)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return True

    def install(self, credential: Credential, new: NewSecret) -> None:
        _, path = self._file(credential)
        present = {line_fingerprint(x) for x in path.read_text().splitlines()}
        if new.identifier not in present:
            self._rewrite(path, lambda line: True, self._public_line(new))

    def create(self, credential: Credential, tag: str) -> NewSecret:
        new = self.generate(credential, tag)
        self.install(credential, new)
        return new

    def created_by_us(self, credential: Credential, tag: str) -> list[str]:
        _, path = self._file(credential)
        found = []
        for line in path.read_text().splitlines():
            parsed = parse_line(line)
            if parsed and parsed[2] == tag:
                fp = line_fingerprint(line)
                if fp:
                    found.append(fp)
        return found

    def discard(self, credential: Credential, identifier: str) -> None:
        self.revoke(credential, identifier, None)

    def revoke(self, credential: Credential, identifier: str, old: Secret | None) -> None:
        _, path = self._file(credential)
        self._rewrite(path, lambda line: line_fingerprint(line) != identifier)

    def revoke_sessions(self, credential: Credential) -> int:
        """End live sshd sessions that logged in with the old key: sshd's log names the
        client's port, the kernel's socket table names the processes holding it."""
        if self.log is None or not self.log.exists():
            return 0
        user = str(credential.extra.get("user") or credential.owner)
        wanted = set(credential.identifiers)
        ports = set()
        for line in self.log.read_text(errors="replace").splitlines():
            m = _ACCEPTED.search(line)
            if m and m.group(1) == user and m.group(4) in wanted:
                ports.add(int(m.group(3)))
        ended = 0
        for pid in _sshd_pids_with_peer_ports(self.port, ports):
            try:
                os.kill(pid, signal.SIGTERM)
                ended += 1
            except ProcessLookupError:
                pass
        return ended


def _socket_inodes(local_port: int, peer_ports: set[int]) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, remote, inode = cols[1], cols[2], cols[9]
            if (
                int(local.rsplit(":", 1)[1], 16) == local_port
                and int(remote.rsplit(":", 1)[1], 16) in peer_ports
            ):
                inodes.add(f"socket:[{inode}]")
    return inodes


def _sshd_pids_with_peer_ports(local_port: int, peer_ports: set[int]) -> list[int]:
    if not peer_ports:
        return []
    inodes = _socket_inodes(local_port, peer_ports)
    pids: list[int] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"sshd" not in (proc / "cmdline").read_bytes():
                continue
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            pids.append(int(proc.name))
    return pids
