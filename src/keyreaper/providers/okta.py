"""Okta: API tokens, user sessions and OAuth client secrets.

- api_token: listed and revoked through /api/v1/api-tokens; probed with a request signed
  `SSWS <token>` (401 E0000011 is Okta's refusal). Okta offers no API to create one, so a
  rotation needs a person: create raises CreateBlocked("manual creation required").
- session: revoked with DELETE /api/v1/sessions/{id}; the user's other sessions with
  DELETE /api/v1/users/{id}/sessions; probed with GET /api/v1/sessions/me and the `sid`
  cookie (404 E0000007 is the refusal). Okta cannot list sessions: they come from exposures.
- oauth_client: one credential per client secret of an app; rotated fully through
  /api/v1/apps/{appId}/credentials/secrets (create, deactivate, delete); probed with a
  client_credentials request at the token endpoint (401 invalid_client is the refusal).
  Okta secrets carry no tags, so the secrets we create start with a visible marker
  derived from the campaign tag (see `marker`): a resume finds one whose value was lost.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.plugins import NewSecret, Probe
from keyreaper.providers.blockers import CreateBlocked, TargetRefused, TargetUnavailable
from keyreaper.providers.okta_http import OktaApiError, OktaHttp, error_of

MANUAL_CREATION = (
    "manual creation required: Okta API tokens cannot be created through the API; "
    "create one in the Admin Console (Security > API > Tokens), deliver it, then re-run"
)
SESSIONS_NOT_ROTATED = "sessions are not rotated: revoke without replacement"
MAX_CLIENT_SECRETS = 2  # Okta's limit per app
MARKER_PREFIX = "krp_"
MARKER_LENGTH = 12  # Okta lists show a secret's first 12 characters
SECRET_LENGTH = 64  # within Okta's bounds, and >= 32 as client_secret_jwt requires


def marker(tag: str) -> str:
    """The visible start of a secret we make: not secret, names the campaign tag."""
    digest = hashlib.sha256(tag.encode()).hexdigest()
    return MARKER_PREFIX + digest[: MARKER_LENGTH - len(MARKER_PREFIX)]


def _is_ours(listed: dict[str, Any], tag: str | None) -> bool:
    shown = str(listed.get("client_secret", ""))
    if tag is None:
        return re.fullmatch(MARKER_PREFIX + "[0-9a-f]{8}", shown[:MARKER_LENGTH]) is not None
    return shown.startswith(marker(tag))


class OktaProvider:
    name = "okta"
    kinds = ("api_token", "session", "oauth_client")
    # See AwsIamProvider.creates: Okta has no API to create an API token.
    creates = {"api_token": "manual", "session": "never", "oauth_client": "api"}

    def __init__(
        self,
        base_url: str,
        api_token: Secret,
        *,
        token_endpoint: str = "/oauth2/default/v1/token",  # noqa: S107 - a path
        probe_scope: str = "keyreaper.probe",
        revoke_oauth_tokens: bool = True,
        page_size: int = 200,
        timeout: float = 10.0,
        max_wait: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = OktaHttp(
            base_url, timeout=timeout, max_wait=max_wait, transport=transport, sleep=sleep
        )
        self._token = api_token
        self.token_endpoint = token_endpoint
        self.probe_scope = probe_scope
        self.revoke_oauth_tokens = revoke_oauth_tokens
        # Okta's maximum: fewer requests, less of the rate limit spent on listing.
        self.page = {"limit": page_size}

    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"SSWS {self._token.reveal()}"}

    def _call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        return self.http.json(method, path, ok=ok, headers=self._admin(), **kw)

    def _gone(self, method: str, path: str, ok: tuple[int, ...] = (204,)) -> bool:
        """A delete-like call; True when it acted, False when Okta says it is already gone."""
        try:
            self._call(method, path, ok=ok)
        except OktaApiError as exc:
            if exc.status == 404 and exc.code == "E0000007":
                return False
            raise
        return True

    # -- inventory --------------------------------------------------------------------------

    def inventory(self) -> Iterator[Credential]:
        yield from self._api_tokens()
        yield from self._client_secrets()

    def _api_tokens(self) -> Iterator[Credential]:
        for t in self.http.pages("/api/v1/api-tokens", headers=self._admin(), params=self.page):
            yield Credential(
                id=Credential.make_id(self.name, "api_token", t["id"]),
                provider=self.name,
                kind="api_token",
                identifiers=(t["id"],),
                name=t.get("name", ""),
                owner=t.get("userId", ""),
                created=t.get("created", ""),
                expires=t.get("expiresAt", ""),
                extra={
                    "user_id": t.get("userId", ""),
                    "client_name": t.get("clientName", ""),
                    "token_window": t.get("tokenWindow", ""),
                    "network": t.get("network", {}),
                },
            )

    def _client_secrets(self) -> Iterator[Credential]:
        for app in self.http.pages("/api/v1/apps", headers=self._admin(), params=self.page):
            client = app.get("credentials", {}).get("oauthClient", {})
            if not client.get("client_id"):
                continue
            found = self._call("GET", f"/api/v1/apps/{app['id']}/credentials/secrets")
            known = sorted(s["id"] for s in found)
            for s in found:
                yield Credential(
                    id=Credential.make_id(self.name, "oauth_client", s["id"]),
                    provider=self.name,
                    kind="oauth_client",
                    identifiers=(s["id"],),
                    name=f"{app.get('label', app['id'])}/{s['id']}",
                    owner=app.get("label", ""),
                    created=s.get("created", ""),
                    extra={
                        "app_id": app["id"],
                        "client_id": client["client_id"],
                        "status": s.get("status", ""),
                        "secret_hash": s.get("secret_hash", ""),
                        "app_secret_ids": known,
                        "created_by_keyreaper": _is_ours(s, None),
                    },
                )

    # -- probe ------------------------------------------------------------------------------

    def probe(self, credential: Credential, identifier: str, secret: Secret) -> Probe:
        try:
            if credential.kind == "api_token":
                r = self.http.request(
                    "GET",
                    "/api/v1/users/me",
                    headers={"Authorization": f"SSWS {secret.reveal()}"},
                )
                return _verdict(r, "GET /api/v1/users/me", {(401, "E0000011")})
            if credential.kind == "session":
                # The session id travels as the `sid` cookie; the cookie jar stays empty.
                r = self.http.request(
                    "GET", "/api/v1/sessions/me", headers={"Cookie": f"sid={secret.reveal()}"}
                )
                return _verdict(r, "GET /api/v1/sessions/me", {(404, "E0000007")})
            if credential.kind == "oauth_client":
                r = self.http.request(
                    "POST",
                    self.token_endpoint,
                    data={"grant_type": "client_credentials", "scope": self.probe_scope},
                    auth=(self._client_id(credential), secret.reveal()),
                )
                return _verdict(r, f"POST {self.token_endpoint}", {(401, "invalid_client")})
        except TargetUnavailable as exc:
            return Probe(Liveness.UNKNOWN, f"no answer: {exc}")
        return Probe(Liveness.UNKNOWN, f"okta cannot probe kind {credential.kind}")

    @staticmethod
    def _client_id(credential: Credential) -> str:
        cid = credential.extra.get("client_id") or credential.extra.get("app_id")
        if not cid:
            raise TargetRefused(f"{credential.id}: no client_id in extra")
        return str(cid)

    @staticmethod
    def _app_id(credential: Credential) -> str:
        aid = credential.extra.get("app_id") or credential.extra.get("client_id")
        if not aid:
            raise TargetRefused(f"{credential.id}: no app_id in extra")
        return str(aid)

    # -- create / discard -------------------------------------------------------------------

    def _secrets(self, credential: Credential) -> list[dict[str, Any]]:
        try:
            found: list[dict[str, Any]] = self._call(
                "GET", f"/api/v1/apps/{self._app_id(credential)}/credentials/secrets"
            )
        except OktaApiError as exc:
            if exc.status == 404:  # the app is gone, and its secrets with it
                return []
            raise
        return found

    def create_blocker(self, credential: Credential, tag: str | None = None) -> str | None:
        if credential.kind == "api_token":
            return MANUAL_CREATION
        if credential.kind == "session":
            return SESSIONS_NOT_ROTATED
        if credential.kind != "oauth_client":
            return f"okta cannot create kind {credential.kind}"
        stale = set(self.created_by_us(credential, tag)) if tag is not None else set()
        found = [s for s in self._secrets(credential) if s["id"] not in stale]
        if len(found) >= MAX_CLIENT_SECRETS:
            names = ", ".join(
                s["id"] + (" (made by keyreaper)" if _is_ours(s, None) else "") for s in found
            )
            return (
                f"app {self._app_id(credential)} already has {len(found)} client secrets "
                f"({names}); Okta allows {MAX_CLIENT_SECRETS}: delete one that is not in use, "
                "keyreaper never deletes a secret it did not create"
            )
        return None

    def create(self, credential: Credential, tag: str) -> NewSecret:
        """A new client secret of our own making, marked so a resume can find it.

        Okta lets the client bring its secret, and lists show a secret's first characters:
        ours start with MARKER + a digest of the campaign tag, the rest is random."""
        blocker = self.create_blocker(credential, tag)
        if blocker:
            raise CreateBlocked(blocker, needs_manual=credential.kind != "session")
        for stale in self.created_by_us(credential, tag):  # made before, secret lost
            self.discard(credential, stale)
        value = marker(tag) + secrets.token_urlsafe(48)[: SECRET_LENGTH - MARKER_LENGTH]
        made = self._call(
            "POST",
            f"/api/v1/apps/{self._app_id(credential)}/credentials/secrets",
            ok=(200, 201),
            json={"client_secret": value, "status": "ACTIVE"},
        )
        return NewSecret(identifier=made["id"], secret=Secret(value), tag=tag)

    def created_by_us(self, credential: Credential, tag: str) -> list[str]:
        """Client secrets of the app that carry our marker for `tag`."""
        if credential.kind != "oauth_client":
            return []
        return sorted(s["id"] for s in self._secrets(credential) if _is_ours(s, tag))

    def discard(self, credential: Credential, identifier: str) -> None:
        if credential.kind != "oauth_client":
            raise CreateBlocked(f"okta {credential.kind}: nothing is created, nothing to discard")
        found = {s["id"]: s for s in self._secrets(credential)}
        if identifier not in found:
            return
        if not _is_ours(found[identifier], None):
            raise CreateBlocked(f"refusing to discard {identifier}: keyreaper did not create it")
        self._revoke_secret(credential, identifier)

    # -- revoke -----------------------------------------------------------------------------

    def revoke(self, credential: Credential, identifier: str, old: Secret | None) -> None:
        if credential.kind == "api_token":
            if old is not None and old == self._token:
                raise TargetRefused(f"refusing to revoke {identifier}: keyreaper itself uses it")
            self._gone("DELETE", f"/api/v1/api-tokens/{identifier}")
        elif credential.kind == "session":
            self._gone("DELETE", f"/api/v1/sessions/{identifier}")
        elif credential.kind == "oauth_client":
            self._revoke_secret(credential, identifier)
        else:
            raise TargetRefused(f"okta cannot revoke kind {credential.kind}")

    def _revoke_secret(self, credential: Credential, secret_id: str) -> None:
        """Deactivate (Okta deletes only inactive secrets), then delete; state first."""
        path = f"/api/v1/apps/{self._app_id(credential)}/credentials/secrets/{secret_id}"
        try:
            current = self._call("GET", path)
        except OktaApiError as exc:
            if exc.status == 404:
                return
            raise
        if current.get("status") == "ACTIVE":
            self._gone("POST", f"{path}/lifecycle/deactivate", ok=(200,))
        self._gone("DELETE", path)

    def revoke_sessions(self, credential: Credential) -> int:
        """Clears the user's Okta sessions for a `session` credential (and, by default, the
        OAuth tokens issued to them). API tokens derive no sessions; access tokens minted
        with a client secret cannot be listed or revoked by client and expire on their own
        (1 hour by default). Returns how many clear calls took effect."""
        if credential.kind != "session":
            return 0
        user = credential.extra.get("user_id") or credential.owner
        if not user:
            return 0
        params = {"oauthTokens": "true"} if self.revoke_oauth_tokens else {}
        try:
            self._call("DELETE", f"/api/v1/users/{user}/sessions", ok=(204,), params=params)
        except OktaApiError as exc:
            if exc.status == 404:
                return 0
            raise
        return 1

    def close(self) -> None:
        self.http.close()


def _verdict(r: httpx.Response, what: str, refusals: set[tuple[int, str]]) -> Probe:
    """LIVE on success or any answer past authentication; DEAD only on Okta's own refusal."""
    code, summary = error_of(r)
    if (r.status_code, code) in refusals:
        return Probe(Liveness.DEAD, f"{what}: {r.status_code} {code} {summary}".strip(), True)
    if r.status_code < 300:
        return Probe(Liveness.LIVE, f"{what}: {r.status_code} accepted")
    if r.status_code in (400, 403) and code in ("E0000006", "invalid_scope", "unauthorized_client"):
        # Okta authenticated the credential before judging the request: it is alive.
        return Probe(Liveness.LIVE, f"{what}: authenticated, then {r.status_code} {code}")
    return Probe(Liveness.UNKNOWN, f"{what}: {r.status_code} {code} {summary}".strip())
