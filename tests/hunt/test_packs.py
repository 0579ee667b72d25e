"""The baseline packs (documented queries) fire on what they describe and not on the
ordinary history around it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.hunt import events

from keyreaper.events.store import EventStore
from keyreaper.hunt import packs
from keyreaper.hunt.run import connect
from keyreaper.workspace import Workspace

T = datetime(2024, 3, 1, 8, tzinfo=UTC)


def _okta(h: float, actor: str, etype: str, ip: str, asn: int, session: str = "s1",
          lat: float = 48.85, lon: float = 2.35, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"published": (T + timedelta(hours=h)).isoformat(), "eventType": etype,
            "actor": {"alternateId": actor, "id": actor}, "target": [],
            "client": {"ipAddress": ip, "geographicalContext": {"geolocation": {"lat": lat, "lon": lon}}},
            "securityContext": {"asNumber": asn}, "outcome": {"result": "SUCCESS"},
            "authenticationContext": {"externalSessionId": session}, **extra}  # fmt: skip


def _run(ws: Workspace, pack: str) -> list[Any]:
    (res,) = packs.run(connect(ws), packs.select([pack]))
    assert not res.error, res.error
    return res.hits


def test_okta_baseline_packs(sqlite_workspace: Workspace) -> None:
    rows = [
        _okta(h, "admin@corp", "user.session.start", "10.0.0.1", 100, f"s{h}") for h in range(5)
    ]
    # replayed session: same id, another network; and from Sydney an hour after Paris
    rows.append(_okta(6, "admin@corp", "user.session.start", "10.0.0.1", 100, "hot"))
    rows.append(_okta(6.5, "admin@corp", "user.account.privilege.grant", "193.142.58.126", 9009,
                      "hot", lat=-33.87, lon=151.21))  # fmt: skip
    rows.append(_okta(7, "admin@corp", "user.session.access_admin_app", "10.0.0.1", 100, "s7",
                      securityContext={"asNumber": 100, "isProxy": True}))  # fmt: skip
    events.write(EventStore(sqlite_workspace.events_dir), "okta", rows, name="okta")
    replay = _run(sqlite_workspace, "session_replay_new_network")
    assert [(h.src_ip, h.origin) for h in replay] == [("193.142.58.126", "okta.jsonl:7")]
    travel = _run(sqlite_workspace, "impossible_travel")
    assert [h.origin for h in travel] == ["okta.jsonl:7"] and "km/h" in travel[0].detail["why"]
    admin = _run(sqlite_workspace, "admin_via_proxy_or_new_asn")
    why = {h.origin: h.detail["why"] for h in admin}
    assert why == {"okta.jsonl:7": "first use of AS9009 by this actor",
                   "okta.jsonl:8": "through an anonymizing proxy"}  # fmt: skip


def test_cloudtrail_and_sshd_baselines(sqlite_workspace: Workspace) -> None:
    def ct(h: int, name: str, ip: str, who: str = "deployer") -> dict[str, Any]:
        return {"eventTime": (T + timedelta(hours=h)).isoformat(), "eventName": name,
                "sourceIPAddress": ip, "userIdentity": {"userName": who, "accessKeyId": "AKIAX"}}  # fmt: skip

    store = EventStore(sqlite_workspace.events_dir)
    events.write(store, "cloudtrail", [ct(0, "ListBuckets", "10.0.0.1"), ct(1, "AssumeRole", "10.0.0.1"),
                                       ct(2, "AssumeRole", "10.0.0.1"), ct(3, "AssumeRole", "198.51.100.7"),
                                       ct(4, "CreateAccessKey", "198.51.100.7"),
                                       ct(5, "CreateAccessKey", "10.0.0.9", "newcomer")], name="ct")  # fmt: skip

    def ssh(h: int, ip: str, key: str, outcome: str = "success") -> dict[str, Any]:
        return {"time": (T + timedelta(hours=h)).isoformat(), "event_type": "Accepted publickey",
                "actor_name": "deploy", "src_ip": ip, "credential_id": key, "outcome": outcome}  # fmt: skip

    events.write(store, "sshd", [ssh(0, "10.0.0.8", "SHA256:a"), ssh(1, "10.0.0.8", "SHA256:a"),
                                 ssh(2, "203.0.113.5", "SHA256:a", "failure"), ssh(3, "203.0.113.5", "SHA256:a"),
                                 ssh(4, "10.0.0.8", "SHA256:b")], name="ssh")  # fmt: skip
    ct_hits = _run(sqlite_workspace, "cloudtrail_key_role_outside_baseline")
    assert [(h.origin, h.detail["why"]) for h in ct_hits] == [
        ("ct.jsonl:2", "first AssumeRole by this principal"),
        ("ct.jsonl:4", "first AssumeRole from 198.51.100.7 by this principal"),
        ("ct.jsonl:5", "first CreateAccessKey by this principal"),
    ]  # the newcomer has no history: no baseline to be outside of
    ssh_hits = _run(sqlite_workspace, "sshd_first_key_login_new_ip")
    assert [(h.origin, h.detail["why"]) for h in ssh_hits] == [
        ("ssh.jsonl:4", "key SHA256:a first used from 203.0.113.5"),
        ("ssh.jsonl:5", "first login with key SHA256:b"),
    ]
