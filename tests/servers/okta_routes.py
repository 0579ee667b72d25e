"""The endpoint table of the local Okta org (see tests/servers/okta.py for what it follows)."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode

if TYPE_CHECKING:
    from tests.servers.okta import FakeOkta, Response

from tests.servers.okta import OktaError, not_found, now_iso, okta_id

MAX_LIMIT = 200
DEFAULT_LIMIT = 20


def paginate(
    fake: FakeOkta,
    path: str,
    query: dict[str, list[str]],
    items: list[dict[str, Any]],
    render: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item,
) -> Response:
    """Cursor pagination: `after` is the id of the last item seen; Link announces the rest."""
    try:
        limit = int(query.get("limit", [str(DEFAULT_LIMIT)])[0])
    except ValueError:
        raise OktaError(
            400, "E0000001", "Api validation failed: limit", ["limit: must be a number"]
        ) from None
    limit = max(1, min(limit, MAX_LIMIT))
    after = query.get("after", [""])[0]
    ids = [i["id"] for i in items]
    start = ids.index(after) + 1 if after in ids else 0
    page = items[start : start + limit]
    links = [f'<{fake.base_url}{path}?{urlencode({"limit": limit})}>; rel="self"']
    if start + limit < len(items):
        cursor = urlencode({"after": page[-1]["id"], "limit": limit})
        links.append(f'<{fake.base_url}{path}?{cursor}>; rel="next"')
    return 200, [render(i) for i in page], {"Link": ", ".join(links)}


def route(
    fake: FakeOkta, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
) -> Response:
    for pattern, handlers in ROUTES:
        m = re.fullmatch(pattern, path)
        if m:
            handler = handlers.get(method)
            if handler is None:
                raise OktaError(
                    405, "E0000022", "The endpoint does not support the provided HTTP method"
                )
            answer: Response = handler(fake, query, headers, body, *map(unquote, m.groups()))
            return answer
    raise OktaError(404, "E0000008", "The requested path was not found")


# -- users ------------------------------------------------------------------------------------


def users_me(fake: FakeOkta, q: Any, headers: Any, body: bytes) -> Response:
    token = fake.caller(headers, admin=False)
    user = fake.users[token["userId"]]
    return (
        200,
        {"id": user["id"], "status": user["status"], "profile": {"login": user["login"]}},
        {},
    )


def clear_user_sessions(fake: FakeOkta, q: Any, headers: Any, body: bytes, uid: str) -> Response:
    fake.caller(headers)
    if uid not in fake.users:
        raise not_found(uid, "User")
    for sid in [s for s, v in fake.sessions.items() if v["userId"] == uid]:
        del fake.sessions[sid]
    return 204, None, {}


# -- API tokens -------------------------------------------------------------------------------


def list_tokens(fake: FakeOkta, q: Any, headers: Any, body: bytes) -> Response:
    fake.caller(headers)
    items = list(fake.tokens.values())
    return paginate(fake, "/api/v1/api-tokens", q, items, fake._token_json)


def get_token(fake: FakeOkta, q: Any, headers: Any, body: bytes, tid: str) -> Response:
    fake.caller(headers)
    if tid not in fake.tokens:
        raise not_found(tid, "ApiToken")
    return 200, fake._token_json(fake.tokens[tid]), {}


def revoke_token(fake: FakeOkta, q: Any, headers: Any, body: bytes, tid: str) -> Response:
    caller = fake.caller(headers, admin=tid != "current")
    tid = caller["id"] if tid == "current" else tid
    if tid not in fake.tokens:
        raise not_found(tid, "ApiToken")
    del fake.tokens[tid]
    return 204, None, {}


# -- sessions ---------------------------------------------------------------------------------


def session_me(fake: FakeOkta, q: Any, headers: Any, body: bytes) -> Response:
    cookies = dict(
        part.strip().split("=", 1)
        for part in (headers.get("Cookie") or "").split(";")
        if "=" in part
    )
    sid = cookies.get("sid", "")
    if sid not in fake.sessions:
        raise not_found("me", "Session")
    return 200, fake._session_json(fake.sessions[sid]), {}


def get_session(fake: FakeOkta, q: Any, headers: Any, body: bytes, sid: str) -> Response:
    fake.caller(headers)
    if sid not in fake.sessions:
        raise not_found(sid, "Session")
    return 200, fake._session_json(fake.sessions[sid]), {}


def revoke_session(fake: FakeOkta, q: Any, headers: Any, body: bytes, sid: str) -> Response:
    fake.caller(headers)
    if sid not in fake.sessions:
        raise not_found(sid, "Session")
    del fake.sessions[sid]
    return 204, None, {}


# -- apps and their client secrets ------------------------------------------------------------


def list_apps(fake: FakeOkta, q: Any, headers: Any, body: bytes) -> Response:
    fake.caller(headers)
    return paginate(fake, "/api/v1/apps", q, list(fake.apps.values()), fake._app_json)


def _app(fake: FakeOkta, aid: str) -> dict[str, Any]:
    if aid not in fake.apps:
        raise not_found(aid, "App")
    return fake.apps[aid]


def _secret(fake: FakeOkta, aid: str, sid: str) -> dict[str, Any]:
    found: dict[str, Any] | None = _app(fake, aid)["secrets"].get(sid)
    if found is None:
        raise not_found(sid, "ClientSecret")
    return found


def list_secrets(fake: FakeOkta, q: Any, headers: Any, body: bytes, aid: str) -> Response:
    fake.caller(headers)
    app = _app(fake, aid)
    return 200, [fake._secret_json(aid, s, reveal=False) for s in app["secrets"].values()], {}


def create_secret(fake: FakeOkta, q: Any, headers: Any, body: bytes, aid: str) -> Response:
    import json

    fake.caller(headers)
    app = _app(fake, aid)
    try:
        wanted = json.loads(body) if body else {}
    except ValueError:
        raise OktaError(400, "E0000003", "The request body was not well-formed.") from None
    if len(app["secrets"]) >= 2:
        raise OktaError(
            400,
            "E0000001",
            "Api validation failed: client_secret",
            ["client_secret: You can create up to two Secret objects."],
        )
    own = wanted.get("client_secret")
    if own is not None and not (isinstance(own, str) and 14 <= len(own) <= 100):
        raise OktaError(
            400,
            "E0000001",
            "Api validation failed: client_secret",
            ["client_secret: 'client_secret' must be between 14 and 100 characters in length."],
        )
    sid, _ = fake._new_secret(aid, own, wanted.get("status", "ACTIVE"))
    return 201, fake._secret_json(aid, app["secrets"][sid], reveal=True), {}


def get_secret(fake: FakeOkta, q: Any, headers: Any, body: bytes, aid: str, sid: str) -> Response:
    fake.caller(headers)
    return 200, fake._secret_json(aid, _secret(fake, aid, sid), reveal=False), {}


def delete_secret(
    fake: FakeOkta, q: Any, headers: Any, body: bytes, aid: str, sid: str
) -> Response:
    fake.caller(headers)
    secret = _secret(fake, aid, sid)
    if secret["status"] == "ACTIVE":
        raise OktaError(
            400,
            "E0000001",
            "Api validation failed: client_secret",
            ["client_secret: You can only delete an inactive Secret."],
        )
    del fake.apps[aid]["secrets"][sid]
    return 204, None, {}


def lifecycle(status: str) -> Any:
    def handler(fake: FakeOkta, q: Any, headers: Any, body: bytes, aid: str, sid: str) -> Response:
        fake.caller(headers)
        secret = _secret(fake, aid, sid)
        secret["status"], secret["lastUpdated"] = status, now_iso()
        return 200, fake._secret_json(aid, secret, reveal=False), {}

    return handler


# -- the OAuth 2.0 token endpoint (org and custom authorization servers) ----------------------


def token(fake: FakeOkta, q: Any, headers: Any, body: bytes, server: str = "") -> Response:
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    auth = headers.get("Authorization") or ""
    if auth.startswith("Basic "):
        try:
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "The authorization grant type is not supported."
        )
    app = fake.apps.get(client_id)
    if app is None:
        return _oauth_error(401, "invalid_client", "Invalid value for 'client_id' parameter.")
    ok = any(
        s["status"] == "ACTIVE" and secrets.compare_digest(s["client_secret"], client_secret)
        for s in app["secrets"].values()
    )
    if not ok:
        return _oauth_error(
            401,
            "invalid_client",
            "The client secret supplied for a confidential client is invalid.",
        )
    scope = form.get("scope", "")
    if not scope or not set(scope.split()) <= fake.scopes:
        return _oauth_error(
            400,
            "invalid_scope",
            "One or more scopes are not configured for the authorization server resource.",
        )
    access = okta_id("eyJ") + secrets.token_urlsafe(24)
    return (
        200,
        {"token_type": "Bearer", "expires_in": 3600, "access_token": access, "scope": scope},
        {},
    )


def _oauth_error(status: int, error: str, description: str) -> Response:
    extra = {"WWW-Authenticate": f'Basic realm="Okta", error="{error}"'} if status == 401 else {}
    return status, {"error": error, "error_description": description}, extra


APP = r"/api/v1/apps/([^/]+)/credentials/secrets"
ROUTES: list[tuple[str, dict[str, Any]]] = [
    (r"/api/v1/users/me", {"GET": users_me}),
    (r"/api/v1/users/([^/]+)/sessions", {"DELETE": clear_user_sessions}),
    (r"/api/v1/api-tokens", {"GET": list_tokens}),
    (r"/api/v1/api-tokens/([^/]+)", {"GET": get_token, "DELETE": revoke_token}),
    (r"/api/v1/sessions/me", {"GET": session_me}),
    (r"/api/v1/sessions/([^/]+)", {"GET": get_session, "DELETE": revoke_session}),
    (r"/api/v1/apps", {"GET": list_apps}),
    (APP, {"GET": list_secrets, "POST": create_secret}),
    (APP + r"/([^/]+)", {"GET": get_secret, "DELETE": delete_secret}),
    (APP + r"/([^/]+)/lifecycle/activate", {"POST": lifecycle("ACTIVE")}),
    (APP + r"/([^/]+)/lifecycle/deactivate", {"POST": lifecycle("INACTIVE")}),
    (r"/oauth2/v1/token", {"POST": token}),
    (r"/oauth2/([^/]+)/v1/token", {"POST": token}),
]
