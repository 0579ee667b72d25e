"""Redis ACL users. Passwords are added and removed by their SHA-256 (`#hash` / `!hash`), so
no plaintext password is ever sent in an ACL command; a user may hold several at once, which
is what lets the new one work before the old one goes."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from typing import Any

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.extras import require
from keyreaper.plugins import NewSecret, Probe
from keyreaper.providers.blockers import TargetRefused, TargetUnavailable


def password_hash(secret: Secret) -> str:
    return hashlib.sha256(secret.reveal().encode()).hexdigest()


class RedisProvider:
    """`host`/`port` of the server; `username`/`password` of an admin allowed ACL and CLIENT."""

    name = "redis"
    kinds = ("password", "service_account", "api_token")

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        username: str = "default",
        password: Secret | None = None,
        timeout: float = 5.0,
        acl_save: bool = False,
    ) -> None:
        self._redis = require("redis", "redis")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.timeout = timeout
        self.acl_save = acl_save
        self._local = threading.local()

    def _admin(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._redis.Redis(
                host=self.host, port=self.port, username=self.username,
                password=self._password.reveal() if self._password else None,
                socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                decode_responses=True,
            )  # fmt: skip
            self._local.conn = conn
        return conn

    def _call(self, *args: Any) -> Any:
        try:
            return self._admin().execute_command(*args)
        except (self._redis.ConnectionError, self._redis.TimeoutError) as exc:
            self._local.conn = None
            raise TargetUnavailable(f"redis {args[0]}: {exc}") from None
        except self._redis.ResponseError as exc:
            raise TargetRefused(
                f"redis {args[0]} {args[1] if len(args) > 1 else ''}: {exc}"
            ) from None

    def inventory(self) -> Iterator[Credential]:
        for line in self._call("ACL", "LIST"):
            parts = str(line).split()
            if len(parts) < 2 or parts[0] != "user" or parts[1] == self.username:
                continue
            user = parts[1]
            yield Credential(
                id=Credential.make_id(self.name, "password", user),
                provider=self.name,
                kind="password",
                identifiers=(user,),
                name=user,
                privilege=" ".join(p for p in parts[2:] if not p.startswith("#")),
                extra={"host": self.host, "port": self.port, "enabled": "on" in parts},
            )

    def probe(self, credential: Credential, identifier: str, secret: Secret) -> Probe:
        # No client-side retries: a refusal is evidence to record, not a blip to hide.
        no_retry = require("redis.retry", "redis").Retry(
            require("redis.backoff", "redis").NoBackoff(), 0
        )
        client = self._redis.Redis(
            host=self.host, port=self.port, username=identifier, password=secret.reveal(),
            socket_timeout=self.timeout, socket_connect_timeout=self.timeout, retry=no_retry,
        )  # fmt: skip
        try:
            client.ping()
        except self._redis.AuthenticationError as exc:
            return Probe(Liveness.DEAD, f"redis refused AUTH: {exc}", auth_refused=True)
        except self._redis.ResponseError as exc:
            if "WRONGPASS" in str(exc):
                return Probe(Liveness.DEAD, f"redis refused AUTH: {exc}", auth_refused=True)
            return Probe(Liveness.UNKNOWN, f"redis answered: {exc}")
        except (self._redis.ConnectionError, self._redis.TimeoutError) as exc:
            return Probe(Liveness.UNKNOWN, f"redis unreachable: {exc}")
        finally:
            client.close()
        return Probe(Liveness.LIVE, f"AUTH as {identifier} on {self.host}:{self.port} succeeded")

    def hashes(self, user: str) -> list[str]:
        info = self._call("ACL", "GETUSER", user)
        if info is None:
            return []
        # redis-py parses the reply into a dict; a raw reply is a flat key/value list.
        fields = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=False))
        return [str(h) for h in fields.get("passwords", [])]

    def _save(self) -> None:
        if self.acl_save:
            self._call("ACL", "SAVE")

    def generate(self, credential: Credential, tag: str) -> NewSecret:
        return NewSecret(credential.identifiers[0], Secret(secrets.token_urlsafe(32)), tag)

    def install(self, credential: Credential, new: NewSecret) -> None:
        digest = password_hash(new.secret)
        if digest not in self.hashes(new.identifier):
            self._call("ACL", "SETUSER", new.identifier, "on", f"#{digest}")
            self._save()

    def create(self, credential: Credential, tag: str) -> NewSecret:
        new = self.generate(credential, tag)
        self.install(credential, new)
        return new

    def created_by_us(self, credential: Credential, tag: str) -> list[str]:
        return []  # passwords carry no tag; a resumed campaign installs the sealed one again

    def discard(self, credential: Credential, identifier: str) -> None:
        return None

    def revoke(self, credential: Credential, identifier: str, old: Secret | None) -> None:
        if old is None:
            # Without the old value we cannot pick its hash: turn the user off entirely.
            self._call("ACL", "SETUSER", identifier, "off")
        else:
            digest = password_hash(old)
            if digest not in self.hashes(identifier):
                return
            self._call("ACL", "SETUSER", identifier, f"!{digest}")
        self._save()

    def revoke_sessions(self, credential: Credential) -> int:
        """Redis cannot tell which password a client used: every client of the user is
        ended, and the ones holding the new password reconnect."""
        return int(self._call("CLIENT", "KILL", "USER", credential.identifiers[0]))
