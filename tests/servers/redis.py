"""A throwaway redis-server on a free loopback port with an admin ACL user and no default."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.servers.common import as_unprivileged, free_port, give_to_unprivileged, wait_for_port

ADMIN = "kr_admin"


@dataclass
class RedisServer:
    port: int
    password: str
    base: Path
    proc: subprocess.Popen[bytes]
    host: str = "127.0.0.1"

    def admin(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(
            host=self.host,
            port=self.port,
            username=ADMIN,
            password=self.password,
            decode_responses=True,
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def start_redis() -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found (apt-get install redis-server)")
    base = Path(tempfile.mkdtemp(prefix="kr-redis-"))
    os.chmod(base, 0o755)  # noqa: S103 - the unprivileged server user must enter it
    port = free_port()
    password = uuid.uuid4().hex
    conf = base / "redis.conf"
    conf.write_text(
        f'port {port}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\nsave ""\n'
        f"appendonly no\ndir {base}\nlogfile {base / 'redis.log'}\nmaxclients 2000\n"
        f"user default off\nuser {ADMIN} on >{password} ~* &* +@all\n"
    )
    give_to_unprivileged(base)
    proc = subprocess.Popen(
        as_unprivileged([binary, str(conf)]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port)
    return RedisServer(port=port, password=password, base=base, proc=proc)
