"""The Okta client's waiting and retrying rules, on scripted responses with a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from keyreaper.providers.blockers import TargetUnavailable
from keyreaper.providers.okta_http import OktaHttp, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def scripted(
    responses: list[httpx.Response], seen: list[httpx.Request]
) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses.pop(0)

    return handler


def client(responses: list[httpx.Response], clock: Clock, seen: list[httpx.Request]) -> OktaHttp:
    return OktaHttp(
        "https://example.okta.com",
        transport=httpx.MockTransport(scripted(responses, seen)),
        sleep=clock.sleep,
        clock=clock.time,
    )


def test_retry_after_seconds_is_honoured() -> None:
    clock, seen = Clock(), list[httpx.Request]()
    http = client(
        [httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(200, json=[])],
        clock,
        seen,
    )
    assert http.request("GET", "/api/v1/apps").status_code == 200
    assert len(seen) == 2 and sum(clock.slept) >= 7


def test_429_waits_for_reset_header() -> None:
    clock, seen = Clock(), list[httpx.Request]()
    reset = int(clock.now) + 5
    limited = httpx.Response(
        429,
        json={"errorCode": "E0000047"},
        headers={
            "X-Rate-Limit-Limit": "10",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": str(reset),
        },
    )
    http = client([limited, httpx.Response(200, json={})], clock, seen)
    assert http.request("GET", "/api/v1/users/me").status_code == 200
    assert clock.now >= reset


def test_a_failed_post_is_not_repeated_blindly() -> None:
    clock, seen = Clock(), list[httpx.Request]()
    http = client([httpx.Response(500), httpx.Response(201, json={})], clock, seen)
    with pytest.raises(TargetUnavailable):
        http.request("POST", "/api/v1/apps/0oa1/credentials/secrets", json={})
    assert len(seen) == 1


def test_get_5xx_is_retried_then_given_up() -> None:
    clock, seen = Clock(), list[httpx.Request]()
    http = client([httpx.Response(502) for _ in range(5)], clock, seen)
    with pytest.raises(TargetUnavailable, match="HTTP 502"):
        http.request("GET", "/api/v1/api-tokens")
    assert len(seen) == 5


def test_retry_after_http_date() -> None:
    response = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after(response, 0.0) == 1445412480.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"}), 0.0) is None


def test_cookies_never_outlive_a_call() -> None:
    clock, seen = Clock(), list[httpx.Request]()
    set_sid = httpx.Response(200, json={}, headers={"Set-Cookie": "sid=102abcdef; Path=/"})
    http = client([set_sid, httpx.Response(200, json={})], clock, seen)
    http.request("GET", "/api/v1/sessions/me", headers={"Cookie": "sid=mine"})
    http.request("GET", "/api/v1/users/me")
    assert "cookie" not in {k.lower() for k in seen[1].headers}
