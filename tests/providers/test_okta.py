"""Okta API tokens, sessions and client secrets against the local Okta org."""

from __future__ import annotations

import logging

import httpx
import pytest

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.providers.blockers import CreateBlocked, TargetUnavailable
from keyreaper.providers.okta import OktaProvider
from tests.servers.common import free_port
from tests.servers.okta import FakeOkta


def admin_provider(okta: FakeOkta, **kw: object) -> OktaProvider:
    admin = okta.add_user("admin@example.com", admin=True)
    _, value = okta.add_api_token(admin, "keyreaper")
    return OktaProvider(okta.base_url, Secret(value), **kw)  # type: ignore[arg-type]


def find(provider: OktaProvider, identifier: str) -> Credential:
    found = [c for c in provider.inventory() if c.identifiers[0] == identifier]
    assert len(found) == 1
    return found[0]


def test_api_token_revoked_and_refused_create_needs_a_person(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)
    bob = okta.add_user("bob@example.com")
    tid, value = okta.add_api_token(bob, "ci-deploy")
    old = Secret(value)
    cred = find(okta_p, tid)
    assert cred.kind == "api_token" and cred.owner == bob and cred.name == "ci-deploy"

    assert okta_p.probe(cred, tid, old).liveness is Liveness.LIVE
    assert "manual creation required" in (okta_p.create_blocker(cred) or "")
    with pytest.raises(CreateBlocked, match="manual creation required") as blocked:
        okta_p.create(cred, "campaign=c1")
    assert blocked.value.needs_manual
    assert okta_p.created_by_us(cred, "campaign=c1") == []

    okta_p.revoke(cred, tid, old)
    okta_p.revoke(cred, tid, old)  # already gone: 404 E0000007 is success
    assert tid not in okta.tokens
    for _ in range(2):
        dead = okta_p.probe(cred, tid, old)
        assert dead.liveness is Liveness.DEAD and dead.auth_refused
        assert "E0000011" in dead.evidence and value not in dead.evidence
    assert okta_p.revoke_sessions(cred) == 0


def test_client_secret_rotated_fully(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)
    app, sid, value = okta.add_app("billing-service")
    old = Secret(value)
    cred = find(okta_p, sid)
    assert cred.kind == "oauth_client" and cred.extra["client_id"] == app

    assert okta_p.probe(cred, sid, old).liveness is Liveness.LIVE
    new = okta_p.create(cred, "campaign=c2")
    assert new.identifier != sid
    assert okta_p.probe(cred, new.identifier, new.secret).liveness is Liveness.LIVE

    okta_p.revoke(cred, sid, old)
    okta_p.revoke(cred, sid, old)
    assert set(okta.apps[app]["secrets"]) == {new.identifier}
    for _ in range(2):
        dead = okta_p.probe(cred, sid, old)
        assert dead.liveness is Liveness.DEAD and dead.auth_refused
        assert "invalid_client" in dead.evidence
    assert okta_p.probe(cred, new.identifier, new.secret).liveness is Liveness.LIVE


def test_client_secret_limit_and_lost_secret_cleanup(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)
    app, sid, _ = okta.add_app("reports")
    cred = find(okta_p, sid)
    lost = okta_p.create(cred, "campaign=c3").identifier  # the secret is dropped here
    # Another campaign finds both slots taken and says which one keyreaper made.
    reason = okta_p.create_blocker(cred, "campaign=other") or ""
    assert "already has 2 client secrets" in reason and f"{lost} (made by keyreaper)" in reason
    with pytest.raises(CreateBlocked):
        okta_p.create(cred, "campaign=other")
    assert len(okta.apps[app]["secrets"]) == 2

    assert okta_p.created_by_us(cred, "campaign=c3") == [lost]
    assert okta_p.created_by_us(cred, "campaign=other") == []
    with pytest.raises(CreateBlocked, match="did not create"):
        okta_p.discard(cred, sid)
    okta_p.discard(cred, lost)  # deactivates, then deletes
    okta_p.discard(cred, lost)
    assert set(okta.apps[app]["secrets"]) == {sid}


def test_create_repeated_under_same_tag_replaces_lost_secret(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)
    app, sid, _ = okta.add_app("reports")
    cred = find(okta_p, sid)
    first = okta_p.create(cred, "campaign=c5")
    assert okta_p.create_blocker(cred, "campaign=c5") is None  # the lost one will be replaced
    second = okta_p.create(cred, "campaign=c5")
    assert set(okta.apps[app]["secrets"]) == {sid, second.identifier}
    assert okta_p.probe(cred, first.identifier, first.secret).liveness is Liveness.DEAD
    assert okta_p.probe(cred, second.identifier, second.secret).liveness is Liveness.LIVE
    listed = [c for c in okta_p.inventory() if c.identifiers[0] == second.identifier]
    assert listed[0].extra["created_by_keyreaper"] is True


def test_sessions_revoked_and_cleared(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)
    carol = okta.add_user("carol@example.com")
    leaked = okta.add_session(carol)
    other = okta.add_session(carol)
    cred = Credential(
        Credential.make_id("okta", "session", leaked),
        "okta",
        "session",
        (leaked,),
        extra={"user_id": carol},
    )
    assert okta_p.probe(cred, leaked, Secret(leaked)).liveness is Liveness.LIVE
    with pytest.raises(CreateBlocked) as blocked:
        okta_p.create(cred, "campaign=c4")
    assert not blocked.value.needs_manual

    okta_p.revoke(cred, leaked, Secret(leaked))
    okta_p.revoke(cred, leaked, Secret(leaked))
    dead = okta_p.probe(cred, leaked, Secret(leaked))
    assert dead.liveness is Liveness.DEAD and dead.auth_refused and "E0000007" in dead.evidence
    assert okta_p.probe(cred, other, Secret(other)).liveness is Liveness.LIVE
    assert okta_p.revoke_sessions(cred) == 1
    assert okta_p.revoke_sessions(cred) == 1  # clearing twice is harmless
    assert not [s for s in okta.sessions.values() if s["userId"] == carol]
    assert okta_p.probe(cred, other, Secret(other)).liveness is Liveness.DEAD
    assert ("DELETE", f"/api/v1/users/{carol}/sessions") in [(m, p) for m, p, *_ in okta.log]


def test_inventory_follows_link_pagination(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta, page_size=20)
    user = okta.add_user("svc@example.com")
    made = {okta.add_api_token(user, f"t{i}")[0] for i in range(45)}
    listed = [c.identifiers[0] for c in okta_p.inventory() if c.kind == "api_token"]
    assert len(listed) == len(set(listed)) == 46
    assert made < set(listed)
    pages = [e for e in okta.log if e[1] == "/api/v1/api-tokens"]
    assert len(pages) == 3 and all(e[2] == 200 for e in pages)


def test_remaining_zero_waits_for_reset_before_next_call(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta, page_size=20)
    user = okta.add_user("svc@example.com")
    for i in range(45):
        okta.add_api_token(user, f"t{i}")
    okta.set_rate_limit("/api/v1/api-tokens", limit=2, window=1.0)
    assert sum(c.kind == "api_token" for c in okta_p.inventory()) == 46
    calls = [e for e in okta.log if e[1] == "/api/v1/api-tokens"]
    assert [e[2] for e in calls] == [200, 200, 200]  # no 429: it waited first
    assert calls[2][3] >= calls[1][4]  # the third call came after the announced reset
    assert okta_p.http.waited > 0


def test_429_waits_until_x_rate_limit_reset(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)
    bob = okta.add_user("bob@example.com")
    tid, value = okta.add_api_token(bob, "ci")
    okta.set_rate_limit("/api/v1/users", limit=1, window=1.0)
    # Another client spends the budget: our provider learns of it only from the 429.
    httpx.get(f"{okta.base_url}/api/v1/users/me", headers={"Authorization": f"SSWS {value}"})
    cred = Credential(Credential.make_id("okta", "api_token", tid), "okta", "api_token", (tid,))
    assert okta_p.probe(cred, tid, Secret(value)).liveness is Liveness.LIVE
    me = [e for e in okta.log if e[1] == "/api/v1/users/me"]
    assert [e[2] for e in me] == [200, 429, 200]
    assert me[2][3] >= me[1][4]  # retried only once X-Rate-Limit-Reset had passed


def test_long_rate_limit_becomes_retry_after(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta, max_wait=0.5)
    okta.set_rate_limit("/api/v1/api-tokens", limit=1, window=30.0)
    list(okta_p.inventory())  # spends the only call in the window
    with pytest.raises(TargetUnavailable) as waited:
        list(okta_p.inventory())
    assert waited.value.retry_after is not None and 1 < waited.value.retry_after <= 31


def test_unreachable_okta_is_unknown_never_dead() -> None:
    okta_p = OktaProvider(f"http://127.0.0.1:{free_port()}", Secret("admin"), timeout=1.0)
    for kind in ("api_token", "session", "oauth_client"):
        cred = Credential(f"okta:{kind}:x", "okta", kind, ("x",), extra={"client_id": "0oa1"})
        got = okta_p.probe(cred, "x", Secret("canary-secret-value"))
        assert got.liveness is Liveness.UNKNOWN and not got.auth_refused
        assert "canary-secret-value" not in got.evidence


def test_pagination_link_to_another_host_is_not_followed(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)

    def evil(request: httpx.Request) -> httpx.Response:
        link = '<http://attacker.example/api/v1/api-tokens?after=x>; rel="next"'
        return httpx.Response(200, json=[], headers={"Link": link})

    okta_p.http.client = httpx.Client(base_url=okta.base_url, transport=httpx.MockTransport(evil))
    with pytest.raises(Exception, match="leaves the org"):
        list(okta_p.inventory())


def test_no_secret_reaches_logs_or_reprs(okta: FakeOkta, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    okta_p = admin_provider(okta)
    _app, sid, value = okta.add_app("svc")
    cred = find(okta_p, sid)
    new = okta_p.create(cred, "campaign=c7")
    okta_p.probe(cred, new.identifier, new.secret)
    okta_p.revoke(cred, sid, Secret(value))
    dead = okta_p.probe(cred, sid, Secret(value))
    text = caplog.text + repr(new) + repr(cred) + dead.evidence + repr(okta_p.__dict__)
    assert new.secret.reveal() not in text and value not in text
    assert okta_p._token.reveal() not in text


def test_app_deleted_meanwhile_means_secret_gone(okta: FakeOkta) -> None:
    okta_p = admin_provider(okta)
    app, sid, value = okta.add_app("gone")
    cred = find(okta_p, sid)
    del okta.apps[app]
    okta_p.revoke(cred, sid, Secret(value))
    assert okta_p.created_by_us(cred, "campaign=c9") == []
    dead = okta_p.probe(cred, sid, Secret(value))
    assert dead.liveness is Liveness.DEAD and "invalid_client" in dead.evidence


def test_errors_name_okta_request_id(okta: FakeOkta) -> None:
    from keyreaper.providers.okta_http import OktaApiError

    okta_p = admin_provider(okta)
    cred = Credential("okta:oauth_client:ocsX", "okta", "oauth_client", ("ocsX",),
                      extra={"app_id": "0oanosuchapp"})  # fmt: skip
    with pytest.raises(OktaApiError) as failed:
        okta_p._call("GET", "/api/v1/apps/0oanosuchapp/credentials/secrets/ocsX")
    assert failed.value.code == "E0000007" and failed.value.request_id.startswith("X")
    assert failed.value.request_id in str(failed.value)
    assert okta_p.created_by_us(cred, "t") == []
