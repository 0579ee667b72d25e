"""A throwaway PostgreSQL server: initdb + pg_ctl on a free loopback port, SCRAM for TCP."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.common import as_unprivileged, free_port, give_to_unprivileged, run

SUPERUSER = "kr_admin"


def pg_bindir() -> Path | None:
    """Debian keeps server binaries out of PATH, under /usr/lib/postgresql/N/bin."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if versions:
        return Path(versions[0]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    bindir: Path
    password: str
    host: str = "127.0.0.1"
    _dbs: list[str] = field(default_factory=list)

    def dsn(
        self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None
    ) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{user}:{pw}@{self.host}:{self.port}/{dbname}"

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._dbs.append(name)
        return name

    def stop(self) -> None:
        subprocess.run(
            as_unprivileged(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"]
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="kr-pg-"))
    os.chmod(base, 0o755)  # noqa: S103 - the unprivileged server user must enter it
    datadir = base / "data"
    sockdir = base / "sock"
    sockdir.mkdir()
    password = uuid.uuid4().hex
    pwfile = base / "pw"
    pwfile.write_text(password)
    give_to_unprivileged(base)
    run(
        as_unprivileged(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
    )
    pwfile.unlink()
    port = free_port()
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockdir} "
        "-c fsync=off -c max_connections=200 -c password_encryption=scram-sha-256"
    )
    run(
        as_unprivileged(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(datadir),
                "-o",
                opts,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ]
        )
    )
    return PostgresServer(port=port, datadir=datadir, bindir=bindir, password=password)
