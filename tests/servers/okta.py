"""A local Okta org implementing exactly the endpoints keyreaper uses, from Okta's published
API reference (developer.okta.com: API Tokens, Sessions, User Sessions, Application Client
Authentication Credentials, Apps, the OAuth 2.0 /token endpoint, rate limits, error codes).

What it reproduces: SSWS authentication (401 E0000011 "Invalid token provided"), error bodies
with errorCode/errorSummary/errorLink/errorId/errorCauses, cursor pagination with `limit` and
`after` announced by `Link: <...>; rel="next"`, the X-Rate-Limit-Limit/Remaining/Reset headers
on every response and 429 E0000047 past the limit, per endpoint bucket, resetting at the
epoch second named in X-Rate-Limit-Reset. API tokens cannot be created through the API (the
Admin Console does it): tests seed them with `add_api_token`, as an admin would.
Served by http.server on 127.0.0.1, a free port, in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.common import free_port

_ALNUM = string.ascii_letters + string.digits
Response = tuple[int, Any, dict[str, str]]


def okta_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(20 - len(prefix)))


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class OktaError(Exception):
    def __init__(
        self, status: int, code: str, summary: str, causes: tuple[str, ...] | list[str] = ()
    ) -> None:
        super().__init__(summary)
        self.status, self.code, self.summary, self.causes = status, code, summary, list(causes)

    def body(self) -> dict[str, Any]:
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": okta_id("oae"),
            "errorCauses": [{"errorSummary": c} for c in self.causes],
        }


def not_found(what: str, kind: str) -> OktaError:
    return OktaError(404, "E0000007", f"Not found: Resource not found: {what} ({kind})")


INVALID_TOKEN = (401, "E0000011", "Invalid token provided")


@dataclass
class Bucket:
    limit: int
    window: float
    start: float = 0.0
    used: int = 0


@dataclass
class FakeOkta:
    """The org's state plus the HTTP server. Seed with add_*; inspect state directly."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> token record
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    # (method, path, status, unix time, X-Rate-Limit-Reset) of every request served
    log: list[tuple[str, str, int, float, int]] = field(default_factory=list)
    scopes: set[str] = field(default_factory=lambda: {"keyreaper.probe"})
    lock: threading.RLock = field(default_factory=threading.RLock)
    base_url: str = ""
    _server: ThreadingHTTPServer | None = None

    # -- seeding (what an admin does in the Admin Console) ---------------------------------

    def add_user(self, login: str, *, admin: bool = False) -> str:
        uid = okta_id("00u")
        self.users[uid] = {"id": uid, "status": "ACTIVE", "admin": admin, "login": login}
        return uid

    def add_api_token(self, user_id: str, name: str) -> tuple[str, str]:
        tid, value = okta_id("00T"), "00" + "".join(secrets.choice(_ALNUM) for _ in range(40))
        self.tokens[tid] = {
            "id": tid,
            "name": name,
            "userId": user_id,
            "clientName": "Okta API",
            "tokenWindow": "P30D",
            "network": {"connection": "ANYWHERE"},
            "created": now_iso(),
            "lastUpdated": now_iso(),
            "expiresAt": now_iso(timedelta(days=30)),
            "value": value,
        }
        return tid, value

    def add_session(self, user_id: str) -> str:
        sid = "102" + "".join(secrets.choice(_ALNUM) for _ in range(22))
        self.sessions[sid] = {"id": sid, "userId": user_id, "createdAt": now_iso()}
        return sid

    def add_app(self, label: str) -> tuple[str, str, str]:
        """An OIDC service app with one active client secret: (app id, secret id, secret)."""
        aid = okta_id("0oa")
        self.apps[aid] = {"id": aid, "label": label, "secrets": {}}
        sid, value = self._new_secret(aid, None)
        return aid, sid, value

    def set_rate_limit(self, bucket: str, limit: int, window: float = 60.0) -> None:
        self.buckets[bucket] = Bucket(limit, window)

    # -- objects as the API renders them ---------------------------------------------------

    def _token_json(self, t: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in t.items() if k != "value"}
        out["_link"] = {"self": {"href": f"{self.base_url}/api/v1/api-tokens/{t['id']}"}}
        return out

    def _session_json(self, s: dict[str, Any]) -> dict[str, Any]:
        user = self.users[s["userId"]]
        href = f"{self.base_url}/api/v1/sessions/{s['id']}"
        return {
            "id": s["id"],
            "userId": s["userId"],
            "login": user["login"],
            "createdAt": s["createdAt"],
            "expiresAt": now_iso(timedelta(hours=2)),
            "status": "ACTIVE",
            "lastPasswordVerification": s["createdAt"],
            "lastFactorVerification": None,
            "amr": ["pwd"],
            "idp": {"id": "00o1n8sbwArJ7OQRw406", "type": "OKTA"},
            "mfaActive": False,
            "_links": {
                "self": {"href": href, "hints": {"allow": ["GET", "DELETE"]}},
                "refresh": {"href": f"{href}/lifecycle/refresh", "hints": {"allow": ["POST"]}},
                "user": {
                    "name": user["login"],
                    "href": f"{self.base_url}/api/v1/users/{user['id']}",
                },
            },
        }

    def _secret_json(self, aid: str, s: dict[str, Any], *, reveal: bool) -> dict[str, Any]:
        value = s["client_secret"]
        href = f"{self.base_url}/api/v1/apps/{aid}/credentials/secrets/{s['id']}"
        links: dict[str, Any] = {}
        if s["status"] == "ACTIVE":
            links["deactivate"] = {
                "href": f"{href}/lifecycle/deactivate",
                "hints": {"allow": ["POST"]},
            }
        else:
            links["activate"] = {"href": f"{href}/lifecycle/activate", "hints": {"allow": ["POST"]}}
            links["delete"] = {"href": href, "hints": {"allow": ["DELETE"]}}
        return {
            "id": s["id"],
            "status": s["status"],
            # Okta shows the full secret only in the create response; lists are masked.
            "client_secret": value if reveal else value[:12] + "......" + value[-8:],
            "secret_hash": base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:16])
            .decode()
            .rstrip("="),
            "created": s["created"],
            "lastUpdated": s["lastUpdated"],
            "_links": links,
        }

    def _app_json(self, a: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": a["id"],
            "name": "oidc_client",
            "label": a["label"],
            "status": "ACTIVE",
            "signOnMode": "OPENID_CONNECT",
            "credentials": {
                "oauthClient": {
                    "client_id": a["id"],
                    "autoKeyRotation": True,
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            },
            "_links": {"self": {"href": f"{self.base_url}/api/v1/apps/{a['id']}"}},
        }

    def _new_secret(self, aid: str, value: str | None, status: str = "ACTIVE") -> tuple[str, str]:
        sid = okta_id("ocs")
        value = value or "".join(secrets.choice(_ALNUM + "-_") for _ in range(64))
        self.apps[aid]["secrets"][sid] = {
            "id": sid,
            "status": status,
            "client_secret": value,
            "created": now_iso(),
            "lastUpdated": now_iso(),
        }
        return sid, value

    # -- serving ---------------------------------------------------------------------------

    def start(self) -> str:
        port = free_port()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: tests read fake.log
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, headers = fake.handle(self.command, self.path, self.headers, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, method: str, raw: str, headers: Any, body: bytes) -> Response:
        url = urlsplit(raw)
        path, query = url.path.rstrip("/"), parse_qs(url.query)
        bucket = _bucket_of(path)
        with self.lock:
            limit_headers, over = self._rate(bucket)
            try:
                if over:
                    raise OktaError(
                        429, "E0000047", "API call exceeded rate limit due to too many requests."
                    )
                status, payload, extra = self._route(method, path, query, headers, body)
            except OktaError as exc:
                status, payload, extra = exc.status, exc.body(), {}
            reset = int(limit_headers["X-Rate-Limit-Reset"])
            self.log.append((method, path, status, time.time(), reset))
        request_id = {"X-Okta-Request-Id": okta_id("X")}  # Okta names every request
        return status, payload, {**limit_headers, **request_id, **extra}

    def _rate(self, bucket: str) -> tuple[dict[str, str], bool]:
        b = self.buckets.setdefault(bucket, Bucket(600, 60.0))
        now = time.time()
        if now >= b.start + b.window:
            b.start, b.used = now, 0
        b.used += 1
        headers = {
            "X-Rate-Limit-Limit": str(b.limit),
            "X-Rate-Limit-Remaining": str(max(0, b.limit - b.used)),
            "X-Rate-Limit-Reset": str(math.ceil(b.start + b.window)),
        }
        return headers, b.used > b.limit

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        from tests.servers.okta_routes import route  # the endpoint table lives there

        return route(self, method, path, query, headers, body)

    # -- authentication --------------------------------------------------------------------

    def caller(self, headers: Any, *, admin: bool = True) -> dict[str, Any]:
        """The token record behind `Authorization: SSWS <token>`; 401 E0000011 otherwise."""
        auth = headers.get("Authorization") or ""
        if not auth:
            raise OktaError(403, "E0000005", "Invalid session")
        scheme, _, value = auth.partition(" ")
        token = next(
            (
                t
                for t in self.tokens.values()
                if scheme == "SSWS" and secrets.compare_digest(t["value"], value.strip())
            ),
            None,
        )
        if token is None or self.users[token["userId"]]["status"] != "ACTIVE":
            raise OktaError(*INVALID_TOKEN)
        # Tokens renew their 30-day window on every use.
        token["expiresAt"] = now_iso(timedelta(days=30))
        if admin and not self.users[token["userId"]]["admin"]:
            raise OktaError(
                403, "E0000006", "You do not have permission to perform the requested action"
            )
        return token


def _bucket_of(path: str) -> str:
    for prefix in ("/api/v1/api-tokens", "/api/v1/sessions", "/api/v1/users", "/api/v1/apps"):
        if path.startswith(prefix):
            return prefix
    return "/oauth2/v1/token" if path.endswith("/v1/token") else "other"
