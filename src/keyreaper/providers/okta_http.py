"""An Okta HTTP client that honours Okta's rate limits and follows Link pagination.

Okta reports X-Rate-Limit-Limit / -Remaining / -Reset (UTC epoch seconds) on every response
and answers 429 past the limit. We wait until the reset before the next call when nothing is
left, and on 429 wait until the reset (plus a little jitter, bounded by `max_wait`) and retry.
A wait longer than `max_wait` is not slept here: it becomes TargetUnavailable with
`retry_after`, so a campaign reschedules the item durably instead of blocking a worker.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from keyreaper.providers.blockers import TargetRefused, TargetUnavailable

RETRYABLE = frozenset({429, 500, 502, 503, 504})


class OktaApiError(TargetRefused):
    """Okta answered with an error body; `status` and `code` (errorCode) say which."""

    def __init__(self, status: int, code: str, summary: str, request_id: str = "") -> None:
        # Okta support finds a request by its X-Okta-Request-Id.
        suffix = f" (request {request_id})" if request_id else ""
        super().__init__(f"Okta {status} {code}: {summary}{suffix}")
        self.status, self.code, self.summary = status, code, summary
        self.request_id = request_id


def api_error(response: httpx.Response) -> OktaApiError:
    code, summary = error_of(response)
    return OktaApiError(
        response.status_code, code, summary, response.headers.get("X-Okta-Request-Id", "")
    )


def error_of(response: httpx.Response) -> tuple[str, str]:
    """(errorCode, errorSummary) of an Okta error body, or OAuth's (error, description)."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", ""
    if "errorCode" in body:
        return str(body["errorCode"]), str(body.get("errorSummary", ""))
    return str(body.get("error", "")), str(body.get("error_description", ""))


def retry_after(response: httpx.Response, now: float) -> float | None:
    """Retry-After as an absolute time: delta-seconds or an HTTP date (RFC 9110)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return now + max(0.0, float(value))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


class OktaHttp:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_wait: float = 60.0,
        max_attempts: int = 5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "keyreaper"},
        )
        self.max_wait, self.max_attempts = max_wait, max_attempts
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        # Okta buckets limits per endpoint family; remember the last word on each.
        self._exhausted_until: dict[str, float] = {}
        self.waited = 0.0  # total seconds slept for rate limits, for tests and reports

    @staticmethod
    def bucket(path: str) -> str:
        parts = httpx.URL(path).path.strip("/").split("/")
        return "/".join(parts[:3])

    def _wait_for(self, bucket: str) -> None:
        with self._lock:
            until = self._exhausted_until.get(bucket, 0.0)
        delay = until - self._clock()
        if delay > 0:
            if delay > self.max_wait:
                raise TargetUnavailable(f"Okta rate limit on {bucket}", retry_after=delay)
            self._sleep(delay)
            self.waited += delay

    def _note_limits(self, bucket: str, response: httpx.Response) -> float | None:
        """Record the bucket's state; returns the reset time when nothing is left."""
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        reset = response.headers.get("X-Rate-Limit-Reset")
        if reset is None or remaining is None:
            return None
        try:
            left, at = int(remaining), float(reset)
        except ValueError:
            return None
        if left > 0 and response.status_code != 429:
            return None
        with self._lock:
            self._exhausted_until[bucket] = at
        return at

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One logical call: waits out rate limits and retries 429/5xx, never 4xx."""
        bucket = self.bucket(path)
        for attempt in range(1, self.max_attempts + 1):
            self._wait_for(bucket)
            try:
                response = self.client.request(method, path, **kw)
            except httpx.HTTPError as exc:
                raise TargetUnavailable(f"Okta {method} {bucket}: {type(exc).__name__}") from exc
            finally:
                # No cookie may outlive its call: a `sid` set by Okta would otherwise ride
                # along with the next probe or admin request.
                self.client.cookies.clear()
            reset = self._note_limits(bucket, response)
            if response.status_code not in RETRYABLE:
                return response
            # A 5xx to a POST may have acted: never repeat it blindly, let the caller probe.
            if attempt == self.max_attempts or (response.status_code != 429 and method == "POST"):
                break
            after = retry_after(response, self._clock())
            if response.status_code == 429 or after is not None:
                # Reset is whole seconds; a little jitter keeps parallel workers apart.
                until = max(reset or self._clock() + 1, after or 0.0)
                delay = until - self._clock() + random.uniform(0, 0.25)
                with self._lock:
                    self._exhausted_until[bucket] = self._clock() + max(delay, 0.0)
            else:
                self._sleep(min(2.0**attempt / 4, self.max_wait))
        code, summary = error_of(response)
        retry = None
        if response.status_code == 429 or "Retry-After" in response.headers:
            retry = max(0.0, self._exhausted_until.get(bucket, 0.0) - self._clock())
        raise TargetUnavailable(
            f"Okta {method} {bucket}: HTTP {response.status_code} {code} {summary}".strip(),
            retry_after=retry,
        )

    def json(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        response = self.request(method, path, **kw)
        if response.status_code not in ok:
            raise api_error(response)
        return response.json() if response.content else None

    def pages(self, path: str, **kw: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following Link rel="next" until there is none."""
        url: str | None = path
        while url:
            response = self.request("GET", url, **kw)
            if response.status_code != 200:
                raise api_error(response)
            yield from response.json()
            url = response.links.get("next", {}).get("url")
            # The API token goes wherever the link points: only ever to our own org.
            if url and not self._same_org(url):
                raise TargetRefused(f"Okta pagination link leaves the org: {url[:80]}")
            kw.pop("params", None)  # the next link carries the cursor and limit itself

    def _same_org(self, url: str) -> bool:
        target = httpx.URL(url)
        if not target.is_absolute_url:
            return True
        base = self.client.base_url
        return (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)

    def close(self) -> None:
        self.client.close()
