"""The reference for bench_rotate: a bare psycopg loop doing what keyreaper's campaign does
to each role — ALTER ROLE with a client-computed SCRAM verifier, a login with the new
password, and the same number of refused logins with the old one — at the same concurrency.

Usage: rotate_bare.py OLD_SECRETS_JSON CONCURRENCY PROBES   (admin DSN in KR_BENCH_PG)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg import sql


def verifier(password: str, iterations: int = 4096) -> str:
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"


def main() -> int:
    with open(sys.argv[1]) as fh:
        old = json.load(fh)
    concurrency, probes = int(sys.argv[2]), int(sys.argv[3])
    dsn = os.environ["KR_BENCH_PG"]
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    local = threading.local()
    failures = []

    def admin() -> psycopg.Connection:  # type: ignore[type-arg]
        if getattr(local, "conn", None) is None:
            local.conn = psycopg.connect(dsn, autocommit=True)
        return local.conn

    def login(user: str, password: str) -> bool:
        try:
            psycopg.connect(
                host=info["host"],
                port=info["port"],
                dbname="postgres",
                user=user,
                password=password,
            ).close()
            return True
        except psycopg.OperationalError:
            return False

    def rotate(item: tuple[str, str]) -> None:
        role, old_pw = item
        new_pw = secrets.token_urlsafe(32)
        admin().execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(verifier(new_pw))
            )
        )
        if not login(role, new_pw):
            failures.append(role)
        for _ in range(probes):
            if login(role, old_pw):
                failures.append(role)

    roles = [(cid.split(":", 2)[2], pw) for cid, pw in old.items()]
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(rotate, roles))
    print(f"rotated {len(roles)}, failures {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
