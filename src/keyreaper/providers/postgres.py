"""PostgreSQL roles with passwords. The new password never reaches the server in clear: the
client computes the SCRAM-SHA-256 verifier and `ALTER ROLE ... PASSWORD '<verifier>'` stores
it as is, so neither the statement log nor pg_stat_activity ever hold the password."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import queue
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.extras import require
from keyreaper.plugins import NewSecret, Probe
from keyreaper.providers.blockers import TargetUnavailable

# SQLSTATEs of a refused login: invalid_password, invalid_authorization_specification.
_REFUSED_STATES = {"28P01", "28000"}
_REFUSED_WORDS = (
    "password authentication failed",
    "is not permitted to log in",
    "no pg_hba.conf entry",
)


def scram_keys(
    password: str, iterations: int = 4096, salt: bytes | None = None
) -> tuple[str, bytes, bytes]:
    """The verifier PostgreSQL itself would store (RFC 5802/7677), with the client and server
    keys it was made from. Our passwords are ASCII, so SASLprep leaves them unchanged."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    verifier = (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}$"
        f"{b64(stored_key).decode()}:{b64(server_key).decode()}"
    )
    return verifier, client_key, server_key


def scram_verifier(password: str, iterations: int = 4096, salt: bytes | None = None) -> str:
    return scram_keys(password, iterations, salt)[0]


def _digest(identifier: str, secret: Secret) -> bytes:
    return hashlib.sha256(f"{identifier}\0{secret.reveal()}".encode()).digest()


def verifier_matches(stored: str, password: str) -> bool:
    """Whether `password` opens the stored SCRAM-SHA-256 verifier (the server's own check)."""
    try:
        method, rest = stored.split("$", 1)
        params, keys = rest.split("$", 1)
        iterations, salt = params.split(":", 1)
        stored_key, _ = keys.split(":", 1)
        if method != "SCRAM-SHA-256":
            return False
        salted = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(salt), int(iterations)
        )
    except ValueError:
        return False
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


class PostgresProvider:
    """Login roles of one server. `dsn` is an admin connection (CREATEROLE or superuser);
    probes log in to `probe_dbname` on the same host and port."""

    name = "postgres"
    kinds = ("db_role", "password", "service_account")
    # A role has one password: installing the new one removes the old (see Engine).
    replaces_in_place = True

    def __init__(
        self,
        *,
        dsn: Secret | str,
        probe_dbname: str = "postgres",
        connect_timeout: int = 10,
        scram_iterations: int = 4096,
        include_superusers: bool = False,
    ) -> None:
        self._psycopg = require("psycopg", "postgres")
        self._sql = require("psycopg.sql", "postgres")
        self._dsn = dsn if isinstance(dsn, Secret) else Secret(dsn)
        info = require("psycopg.conninfo", "postgres").conninfo_to_dict(self._dsn.reveal())
        self.host = str(info.get("host", "127.0.0.1"))
        self.port = int(info.get("port", 5432))
        self.admin = str(info.get("user", ""))
        self.probe_dbname = probe_dbname
        self.connect_timeout = connect_timeout
        self.iterations = scram_iterations
        self.include_superusers = include_superusers
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # (role, secret) digest -> SCRAM client and server keys of a verifier we installed;
        # None when libpq cannot log in with keys (before version 18).
        conninfo = require("psycopg.pq", "postgres").Conninfo.get_defaults()
        self._login_keys: dict[bytes, tuple[bytes, bytes]] | None = (
            {} if any(o.keyword == b"scram_client_key" for o in conninfo) else None
        )

    def _connect_admin(self) -> Any:
        try:
            return self._psycopg.connect(
                self._dsn.reveal(), autocommit=True, connect_timeout=self.connect_timeout
            )
        except self._psycopg.OperationalError as exc:
            raise TargetUnavailable(f"postgres admin connection: {_first_line(exc)}") from None

    def _exec(self, query: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement on an idle admin connection. Connections are shared, not one per
        worker thread: the engine makes at most `concurrency` calls at once, so that many
        are opened, as a bare client with that many threads would."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = None
        if conn is None or conn.closed or conn.broken:
            conn = self._connect_admin()
        try:
            cur = conn.execute(query, params or None)
            rows = list(cur.fetchall()) if cur.description else []
        except (self._psycopg.OperationalError, self._psycopg.InterfaceError) as exc:
            conn.close()  # broken: the next call opens a new one
            raise TargetUnavailable(f"postgres: {_first_line(exc)}") from None
        except BaseException:
            self._idle.put(conn)  # e.g. no right to read pg_authid: the connection is fine
            raise
        self._idle.put(conn)
        return rows

    def role(self, credential: Credential) -> str:
        return credential.identifiers[0]

    def inventory(self) -> Iterator[Credential]:
        rows = self._exec(
            "SELECT rolname, rolsuper, rolcreaterole, rolvaliduntil::text FROM pg_roles"
            " WHERE rolcanlogin AND rolname NOT LIKE 'pg\\_%' ORDER BY rolname"
        )
        for name, superuser, createrole, valid_until in rows:
            if name == self.admin or (superuser and not self.include_superusers):
                continue
            privilege = "superuser" if superuser else "createrole" if createrole else ""
            yield Credential(
                id=Credential.make_id(self.name, "db_role", name),
                provider=self.name,
                kind="db_role",
                identifiers=(name,),
                name=name,
                privilege=privilege,
                expires=valid_until or "",
                extra={"host": self.host, "port": self.port},
            )

    def probe(self, credential: Credential, identifier: str, secret: Secret) -> Probe:
        """A real login. For a password this process installed, libpq is given the SCRAM
        keys computed with its verifier (libpq >= 18), so the client does not derive them
        again: the server runs the same exchange and accepts only if it holds that very
        verifier. Other secrets (the old ones above all) log in with the password alone."""
        keys = self._login_keys.get(_digest(identifier, secret)) if self._login_keys else None
        extra = {}
        if keys is not None:
            b64 = base64.b64encode
            extra = {"scram_client_key": b64(keys[0]).decode(), "scram_server_key": b64(keys[1]).decode()}  # fmt: skip
        try:
            conn = self._psycopg.connect(
                host=self.host, port=self.port, dbname=self.probe_dbname, user=identifier,
                password=secret.reveal(), connect_timeout=self.connect_timeout, **extra,
            )  # fmt: skip
        except self._psycopg.OperationalError as exc:
            message = _first_line(exc)
            state = getattr(exc, "sqlstate", None)
            if state in _REFUSED_STATES or any(w in message for w in _REFUSED_WORDS):
                return Probe(Liveness.DEAD, f"postgres refused login: {message}", auth_refused=True)
            return Probe(Liveness.UNKNOWN, f"postgres unreachable: {message}")
        conn.close()
        how = " (SCRAM keys of the verifier we installed)" if keys else ""
        return Probe(
            Liveness.LIVE, f"login as {identifier} to {self.host}:{self.port} succeeded{how}"
        )

    def precheck(self, credential: Credential, identifier: str, secret: Secret) -> Probe | None:
        """Preflight without a login: the role may log in, is not expired, and the secret
        matches its stored SCRAM verifier (exactly the server's own test). None when the
        admin cannot read pg_authid or the verifier is not SCRAM: then a real login decides."""
        return self.precheck_many([(credential, identifier, secret)])[0]()

    def precheck_many(
        self, items: Sequence[tuple[Credential, str, Secret]]
    ) -> list[Callable[[], Probe | None]]:
        """`precheck` for many roles with one read of pg_authid. Each answer is a function
        that hashes that secret against its verifier, so the engine runs the hashing in each
        item's own worker, not in the one making this call."""
        names = sorted({identifier for _, identifier, _ in items})
        try:
            rows = self._exec(
                "SELECT rolname, rolpassword, rolcanlogin,"
                " rolvaliduntil IS NOT NULL AND rolvaliduntil < now()"
                " FROM pg_authid WHERE rolname = ANY(%s)",
                (names,),
            )
        except TargetUnavailable:
            raise
        except self._psycopg.Error:
            return [lambda: None for _ in items]  # no right to read pg_authid: log in instead
        found = {str(name): rest for name, *rest in rows}
        return [
            functools.partial(_precheck, identifier, found.get(identifier), secret)
            for _, identifier, secret in items
        ]

    def generate(self, credential: Credential, tag: str) -> NewSecret:
        return NewSecret(self.role(credential), Secret(secrets.token_urlsafe(32)), tag)

    def install(self, credential: Credential, new: NewSecret) -> None:
        sql = self._sql
        verifier, client_key, server_key = scram_keys(new.secret.reveal(), self.iterations)
        self._exec(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(new.identifier), sql.Literal(verifier)
            )
        )
        if self._login_keys is not None:  # in memory only, like the new secret itself
            self._login_keys[_digest(new.identifier, new.secret)] = (client_key, server_key)

    def create(self, credential: Credential, tag: str) -> NewSecret:
        new = self.generate(credential, tag)
        self.install(credential, new)
        return new

    def created_by_us(self, credential: Credential, tag: str) -> list[str]:
        return []  # a password replaces the old one in place: nothing separate to clean up

    def discard(self, credential: Credential, identifier: str) -> None:
        return None

    def revoke(self, credential: Credential, identifier: str, old: Secret | None) -> None:
        """Remove the password only while the old one still logs in: after a rotation the
        role holds the new password and this changes nothing."""
        if (
            old is not None
            and self.probe(credential, identifier, old).liveness is not Liveness.LIVE
        ):
            return
        self._exec(
            self._sql.SQL("ALTER ROLE {} WITH PASSWORD NULL").format(
                self._sql.Identifier(identifier)
            )
        )

    def revoke_sessions(self, credential: Credential) -> int:
        return self.revoke_sessions_many([credential])[0]

    def revoke_sessions_many(self, credentials: Sequence[Credential]) -> list[int]:
        """End the open sessions of many roles in one query; the sessions ended, per role."""
        names = [self.role(c) for c in credentials]
        rows = self._exec(
            "SELECT r.name, COUNT(a.pid) FILTER (WHERE pg_terminate_backend(a.pid))"
            " FROM unnest(%s::text[]) AS r(name) LEFT JOIN pg_stat_activity a"
            " ON a.usename = r.name AND a.pid <> pg_backend_pid() GROUP BY r.name",
            (sorted(set(names)),),
        )
        ended = {str(name): int(n) for name, n in rows}
        return [ended.get(name, 0) for name in names]


def _precheck(identifier: str, row: list[Any] | None, secret: Secret) -> Probe | None:
    if row is None:
        return Probe(Liveness.DEAD, f"no role {identifier}", auth_refused=True)
    stored, can_login, expired = row
    if not can_login or expired or stored is None:
        why = "NOLOGIN" if not can_login else "expired" if expired else "no password"
        return Probe(Liveness.DEAD, f"role {identifier}: {why}", auth_refused=True)
    if not verifier_matches(str(stored), secret.reveal()):
        if not str(stored).startswith("SCRAM-SHA-256$"):
            return None
        return Probe(
            Liveness.DEAD, f"secret does not match {identifier}'s verifier", auth_refused=True
        )
    return Probe(Liveness.LIVE, f"secret matches {identifier}'s SCRAM verifier; role may log in")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
