"""--validate: asks the provider whether a found secret works. LIVE, DEAD or UNKNOWN, always
with evidence. DEAD needs the provider's own refusal twice, spaced in time (RELIABILITY.md: one
refusal is a doubt); timeouts and network errors are UNKNOWN. Off unless asked for; one call
per secret; calls to one provider are spaced by a minimum interval. Base URLs are overridable
(`--endpoint github=http://127.0.0.1:8080`) so tests run against local servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from keyreaper.domain import Secret
from keyreaper.scan.findings import ScanFinding

DEFAULT_ENDPOINTS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "slack": "https://slack.com/api",
    "okta": "",  # the org URL: https://acme.okta.com
    "atlassian": "https://api.atlassian.com",
    "cloudflare": "https://api.cloudflare.com/client/v4",
    "stripe": "https://api.stripe.com",
    "aws": "https://sts.amazonaws.com",
}


@dataclass(frozen=True)
class Verdict:
    liveness: str  # LIVE | DEAD | UNKNOWN
    evidence: str
    refused: bool = False  # the provider itself refused the credential


LIVE, DEAD, UNKNOWN = "LIVE", "DEAD", "UNKNOWN"
Check = Callable[["Validator", ScanFinding, Secret], Verdict]


class Validator:
    def __init__(self, endpoints: dict[str, str] | None = None, min_interval: float = 0.5,
                 confirm_delay: float = 2.0, timeout: float = 10.0) -> None:  # fmt: skip
        self.endpoints = {**DEFAULT_ENDPOINTS, **(endpoints or {})}
        self.min_interval = min_interval
        self.confirm_delay = confirm_delay
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._cache: dict[str, Verdict] = {}

    def close(self) -> None:
        self.client.close()

    def _wait(self, name: str) -> None:
        with self._lock:
            gap = self._last.get(name, 0.0) + self.min_interval - time.monotonic()
            if gap > 0:
                time.sleep(gap)
            self._last[name] = time.monotonic()

    def check(self, finding: ScanFinding) -> Verdict:
        if finding.secret is None or not finding.validator:
            return Verdict(UNKNOWN, "no validator for this rule")
        if finding.fingerprint in self._cache:
            return self._cache[finding.fingerprint]
        func = CHECKS.get(finding.validator)
        if func is None:
            return Verdict(UNKNOWN, f"no validator named {finding.validator}")
        verdict = self._twice(finding.validator, lambda: func(self, finding, finding.secret))  # type: ignore[arg-type]
        self._cache[finding.fingerprint] = verdict
        return verdict

    def _twice(self, name: str, call: Callable[[], Verdict]) -> Verdict:
        self._wait(name)
        first = call()
        if first.liveness != DEAD:
            return first
        time.sleep(self.confirm_delay)
        self._wait(name)
        second = call()
        if second.liveness == DEAD and second.refused:
            return Verdict(
                DEAD, f"{second.evidence} (refused twice, {self.confirm_delay:g}s apart)", True
            )
        return Verdict(UNKNOWN, f"refused once, then: {second.evidence}")

    def http(self, name: str, method: str, path: str, **kw: Any) -> httpx.Response | Verdict:
        base = self.endpoints.get(name, "")
        if not base:
            return Verdict(UNKNOWN, f"no base URL for {name} (pass --endpoint {name}=URL)")
        try:
            return self.client.request(method, base.rstrip("/") + path, **kw)
        except httpx.HTTPError as exc:
            return Verdict(UNKNOWN, f"{name}: {type(exc).__name__} (network, not a refusal)")


def _status(
    name: str, resp: httpx.Response | Verdict, live: Callable[[httpx.Response], str]
) -> Verdict:
    if isinstance(resp, Verdict):
        return resp
    if resp.status_code in (401, 403):
        return Verdict(DEAD, f"{name} answered HTTP {resp.status_code}", True)
    if resp.status_code == 200:
        return Verdict(LIVE, f"{name} accepted it: {live(resp)}")
    return Verdict(UNKNOWN, f"{name} answered HTTP {resp.status_code}")


def _field(resp: httpx.Response, *keys: str) -> str:
    try:
        data: Any = resp.json()
        for k in keys:
            data = data[k]
        return str(data)[:80]
    except (ValueError, KeyError, TypeError, IndexError):
        return "HTTP 200"


def _github(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    r = v.http("github", "GET", "/user", headers={"Authorization": f"token {s.reveal()}"})
    return _status("GitHub", r, lambda x: "login " + _field(x, "login"))


def _gitlab(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    r = v.http(
        "gitlab",
        "GET",
        "/api/v4/personal_access_tokens/self",
        headers={"PRIVATE-TOKEN": s.reveal()},
    )
    return _status("GitLab", r, lambda x: "token " + _field(x, "name"))


def _slack(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    r = v.http("slack", "POST", "/auth.test", headers={"Authorization": f"Bearer {s.reveal()}"})
    if isinstance(r, Verdict) or r.status_code != 200:
        return _status("Slack", r, str)
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if body.get("ok") is True:
        return Verdict(LIVE, f"Slack auth.test ok: team {str(body.get('team', ''))[:40]}")
    if body.get("error") in (
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_authed",
    ):
        return Verdict(DEAD, f"Slack auth.test: {body['error']}", True)
    return Verdict(UNKNOWN, f"Slack auth.test: {str(body.get('error', 'unexpected answer'))[:40]}")


def _okta(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    r = v.http(
        "okta",
        "GET",
        "/api/v1/users/me",
        headers={"Authorization": f"SSWS {s.reveal()}", "Accept": "application/json"},
    )
    return _status("Okta", r, lambda x: "user " + _field(x, "profile", "login"))


def _atlassian(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    email = v.endpoints.get("atlassian-email", "")
    auth: Any = (email, s.reveal()) if email else None
    headers = {} if email else {"Authorization": f"Bearer {s.reveal()}"}
    r = v.http("atlassian", "GET", "/rest/api/3/myself", auth=auth, headers=headers)
    return _status("Atlassian", r, lambda x: "account " + _field(x, "accountId"))


def _cloudflare(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    if f.rule in ("cloudflare-global-api-key", "cloudflare-x-auth-key"):
        return Verdict(UNKNOWN, "a global API key needs its account email; not probed")
    r = v.http(
        "cloudflare",
        "GET",
        "/user/tokens/verify",
        headers={"Authorization": f"Bearer {s.reveal()}"},
    )
    return _status("Cloudflare", r, lambda x: "token status " + _field(x, "result", "status"))


def _stripe(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    r = v.http("stripe", "GET", "/v1/balance", auth=(s.reveal(), ""))
    return _status("Stripe", r, lambda x: "balance readable")


def _aws(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    if not f.identifier:
        return Verdict(UNKNOWN, "no access key id found next to the secret key")
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return Verdict(UNKNOWN, "boto3 not installed (pip install 'keyreaper[aws]')")
    sts = boto3.client(
        "sts", aws_access_key_id=f.identifier, aws_secret_access_key=s.reveal(),
        endpoint_url=v.endpoints["aws"], region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=10),
    )  # fmt: skip
    try:
        who = sts.get_caller_identity()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in (
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "ExpiredToken",
        ):
            return Verdict(DEAD, f"AWS STS: {code}", True)
        return Verdict(UNKNOWN, f"AWS STS: {code or 'error'}")
    except BotoCoreError as exc:
        return Verdict(UNKNOWN, f"AWS STS: {type(exc).__name__} (network, not a refusal)")
    return Verdict(LIVE, f"AWS STS GetCallerIdentity: {who.get('Arn', '')}")


def _database(v: Validator, f: ScanFinding, s: Secret) -> Verdict:
    url = f.connect.reveal() if f.connect is not None else ""
    scheme = urlsplit(url).scheme.split("+")[0].lower()
    if scheme in ("postgres", "postgresql"):
        return _postgres(
            url.replace("postgresql+psycopg2", "postgresql").replace(
                "postgresql+psycopg", "postgresql"
            )
        )
    if scheme in ("redis", "rediss"):
        return _redis(url)
    return Verdict(UNKNOWN, f"no driver to test {scheme or 'this'} URLs")


def _postgres(url: str) -> Verdict:
    try:
        import psycopg
    except ImportError:
        return Verdict(UNKNOWN, "psycopg not installed (pip install 'keyreaper[postgres]')")
    try:
        with psycopg.connect(url, connect_timeout=8) as conn:
            user = conn.execute("SELECT current_user").fetchone()
        return Verdict(LIVE, f"PostgreSQL login accepted as {user[0] if user else '?'}")
    except psycopg.OperationalError as exc:
        text = str(exc)
        if "password authentication failed" in text or "no password supplied" in text:
            return Verdict(DEAD, "PostgreSQL refused the password", True)
        if "does not exist" in text and "database" in text:
            # checked after authentication: the password was accepted
            return Verdict(LIVE, "PostgreSQL accepted the password (the named database is gone)")
        return Verdict(UNKNOWN, "PostgreSQL: no answer or other error (not a refusal)")


def _redis(url: str) -> Verdict:
    try:
        import redis
    except ImportError:
        return Verdict(UNKNOWN, "redis not installed (pip install 'keyreaper[redis]')")
    try:
        redis.Redis.from_url(url, socket_timeout=8, socket_connect_timeout=8).ping()
        return Verdict(LIVE, "Redis accepted AUTH and PING")
    except redis.AuthenticationError:
        return Verdict(DEAD, "Redis refused AUTH", True)
    except redis.RedisError as exc:
        if "WRONGPASS" in str(exc) or "invalid password" in str(exc):
            return Verdict(DEAD, "Redis refused AUTH", True)
        return Verdict(UNKNOWN, f"Redis: {type(exc).__name__} (not a refusal)")


CHECKS: dict[str, Check] = {
    "github": _github, "gitlab": _gitlab, "slack": _slack, "okta": _okta,
    "atlassian": _atlassian, "cloudflare": _cloudflare, "stripe": _stripe, "aws": _aws,
    "database": _database,
}  # fmt: skip
