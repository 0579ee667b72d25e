"""The local Okta org against the shapes Okta documents: errors, pagination, rate limits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.servers.okta import FakeOkta

ERROR_FIELDS = {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}


@pytest.fixture
def org() -> Iterator[tuple[FakeOkta, httpx.Client]]:
    fake = FakeOkta()
    fake.start()
    admin = fake.add_user("admin@example.com", admin=True)
    _, value = fake.add_api_token(admin, "admin")
    client = httpx.Client(base_url=fake.base_url, headers={"Authorization": f"SSWS {value}"})
    try:
        yield fake, client
    finally:
        client.close()
        fake.stop()


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status
    body = r.json()
    assert set(body) == ERROR_FIELDS
    assert body["errorCode"] == code and body["errorLink"] == code
    assert isinstance(body["errorCauses"], list) and body["errorId"]
    return dict(body)


def test_authentication_errors(org: tuple[FakeOkta, httpx.Client]) -> None:
    fake, _ = org
    url = f"{fake.base_url}/api/v1/api-tokens"
    body = assert_error(httpx.get(url, headers={"Authorization": "SSWS nope"}), 401, "E0000011")
    assert body["errorSummary"] == "Invalid token provided"
    assert_error(httpx.get(url), 403, "E0000005")
    plain = fake.add_user("plain@example.com")
    _, value = fake.add_api_token(plain, "plain")
    assert_error(httpx.get(url, headers={"Authorization": f"SSWS {value}"}), 403, "E0000006")
    fake.users[plain]["status"] = "DEPROVISIONED"  # tokens of deactivated users are rejected
    assert_error(httpx.get(url, headers={"Authorization": f"SSWS {value}"}), 401, "E0000011")


def test_not_found_method_and_path(org: tuple[FakeOkta, httpx.Client]) -> None:
    _, c = org
    body = assert_error(c.get("/api/v1/api-tokens/00Tnosuchtoken000000"), 404, "E0000007")
    assert "00Tnosuchtoken000000" in str(body["errorSummary"])
    # There is no API to create an API token.
    assert_error(c.post("/api/v1/api-tokens", json={"name": "x"}), 405, "E0000022")
    assert_error(c.get("/api/v1/nothing-here"), 404, "E0000008")


def test_api_token_object_and_link_pagination(org: tuple[FakeOkta, httpx.Client]) -> None:
    fake, c = org
    user = fake.add_user("svc@example.com")
    for i in range(6):
        fake.add_api_token(user, f"t{i}")
    r = c.get("/api/v1/api-tokens", params={"limit": 3})
    assert r.status_code == 200 and len(r.json()) == 3
    assert set(r.links) == {"self", "next"}
    token = r.json()[0]
    assert {"id", "name", "userId", "clientName", "created", "expiresAt", "tokenWindow"} <= set(
        token
    )
    assert "_link" in token and "value" not in token
    seen = [t["id"] for t in r.json()]
    while "next" in r.links:
        r = c.get(r.links["next"]["url"])
        seen += [t["id"] for t in r.json()]
    assert len(seen) == len(set(seen)) == 7 and set(r.links) == {"self"}
    assert len(c.get("/api/v1/api-tokens", params={"limit": 1000}).json()) == 7  # capped at 200


def test_rate_limit_headers_and_429(org: tuple[FakeOkta, httpx.Client]) -> None:
    fake, c = org
    fake.set_rate_limit("/api/v1/api-tokens", limit=2, window=2.0)
    first = c.get("/api/v1/api-tokens")
    assert first.headers["X-Rate-Limit-Limit"] == "2"
    assert first.headers["X-Rate-Limit-Remaining"] == "1"
    reset = int(first.headers["X-Rate-Limit-Reset"])
    assert time.time() < reset <= time.time() + 3
    assert c.get("/api/v1/api-tokens").headers["X-Rate-Limit-Remaining"] == "0"
    over = c.get("/api/v1/api-tokens")
    assert_error(over, 429, "E0000047")
    assert over.headers["X-Rate-Limit-Remaining"] == "0"
    assert c.get("/api/v1/apps").status_code == 200  # other buckets are not affected
    time.sleep(max(0.0, reset - time.time()) + 0.05)
    assert c.get("/api/v1/api-tokens").status_code == 200


def test_client_secret_lifecycle(org: tuple[FakeOkta, httpx.Client]) -> None:
    fake, c = org
    app, sid, value = fake.add_app("svc")
    base = f"/api/v1/apps/{app}/credentials/secrets"
    listed = c.get(base).json()
    assert listed[0]["id"] == sid and listed[0]["client_secret"] != value  # masked in lists
    assert_error(c.post(base, json={"client_secret": "short"}), 400, "E0000001")
    made = c.post(base, json={})
    assert made.status_code == 201 and len(made.json()["client_secret"]) == 64
    assert made.json()["status"] == "ACTIVE" and "deactivate" in made.json()["_links"]
    assert_error(c.post(base, json={"client_secret": "x" * 20}), 400, "E0000001")  # max two
    assert_error(c.delete(f"{base}/{sid}"), 400, "E0000001")  # only inactive ones go
    off = c.post(f"{base}/{sid}/lifecycle/deactivate")
    assert off.json()["status"] == "INACTIVE" and "delete" in off.json()["_links"]
    assert c.delete(f"{base}/{sid}").status_code == 204
    assert_error(c.get(f"{base}/{sid}"), 404, "E0000007")


def test_token_endpoint_errors(org: tuple[FakeOkta, httpx.Client]) -> None:
    fake, _ = org
    app, _, value = fake.add_app("svc")
    url = f"{fake.base_url}/oauth2/default/v1/token"
    form = {"grant_type": "client_credentials", "scope": "keyreaper.probe"}
    assert httpx.post(url, data=form, auth=(app, value)).json()["token_type"] == "Bearer"
    bad = httpx.post(url, data=form, auth=(app, "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert set(bad.json()) == {"error", "error_description"}
    assert httpx.post(url, data=form, auth=("0oanosuchapp", value)).status_code == 401
    scope = httpx.post(url, data={**form, "scope": "okta.users.manage"}, auth=(app, value))
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


def test_sessions(org: tuple[FakeOkta, httpx.Client]) -> None:
    fake, c = org
    user = fake.add_user("dana@example.com")
    sid = fake.add_session(user)
    me = httpx.get(f"{fake.base_url}/api/v1/sessions/me", headers={"Cookie": f"sid={sid}"})
    assert me.status_code == 200 and me.json()["userId"] == user and me.json()["status"] == "ACTIVE"
    assert c.get(f"/api/v1/sessions/{sid}").json()["login"] == "dana@example.com"
    assert c.delete(f"/api/v1/users/{user}/sessions").status_code == 204
    assert_error(c.get(f"/api/v1/sessions/{sid}"), 404, "E0000007")
    assert_error(c.delete(f"/api/v1/sessions/{sid}"), 404, "E0000007")
    assert_error(c.delete("/api/v1/users/00unosuchuser0000000/sessions"), 404, "E0000007")
