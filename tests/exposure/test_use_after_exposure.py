"""Scenario: an inventory, an exposure, and logs in which two exposed credentials are used after
T0 (one from a new ASN, through a replayed session) and one is not."""

from __future__ import annotations

import json
from pathlib import Path

from keyreaper.cli import main
from keyreaper.workspace import Workspace
from tests.exposure.helpers import add_credential, har_entry, ts, write_events, write_har

T0 = "2023-10-18T00:00:00Z"
M247 = 9009  # the attacker's ASN in the Cloudflare incident


def test_use_after_exposure_reports_exactly_the_used_ones(
    workspace: Workspace, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    api_token, session, service = "00" + "a" * 40, "sessCookieValue" + "b" * 20, "c" * 64
    cred_api = add_credential(workspace, "okta", "api_token", "tok-1", api_token)
    cred_sess = add_credential(workspace, "okta", "session", "102sessid", session)
    cred_svc = add_credential(workspace, "cloudflare", "service_token", "svc.access", service)
    har = write_har(
        tmp_path / "support.har",
        [
            har_entry(headers=[("Authorization", f"SSWS {api_token}")]),
            har_entry(headers=[("Cookie", f"sid={session}; theme=dark")]),
            har_entry(
                headers=[
                    ("CF-Access-Client-Id", "svc.access"),
                    ("CF-Access-Client-Secret", service),
                ]
            ),
        ],
    )
    write_events(
        workspace,
        "okta",
        [
            # before T0: the normal life of each credential
            {
                "time": ts("2023-10-10T09:00:00Z"),
                "credential_id": "tok-1",
                "src_ip": "10.0.0.1",
                "src_asn": 64500,
                "user_agent": "okta-sdk",
            },
            {
                "time": ts("2023-10-11T09:00:00Z"),
                "session_id": "102sessid",
                "src_ip": "10.0.0.2",
                "src_asn": 64501,
                "user_agent": "Chrome",
            },
            {
                "time": ts("2023-10-12T09:00:00Z"),
                "credential_id": "svc.access",
                "src_ip": "10.0.0.3",
                "src_asn": 64502,
            },
            # after T0: the API token from its usual place twice; the session replayed from M247
            {
                "time": ts("2023-10-19T09:00:00Z"),
                "credential_id": "tok-1",
                "src_ip": "10.0.0.1",
                "src_asn": 64500,
                "user_agent": "okta-sdk",
            },
            {
                "time": ts("2023-10-20T09:00:00Z"),
                "credential_id": "tok-1",
                "src_ip": "10.0.0.1",
                "src_asn": 64500,
                "user_agent": "okta-sdk",
                "outcome": "failure",
            },
            {
                "time": ts("2023-10-21T10:00:00Z"),
                "session_id": "102sessid",
                "src_ip": "193.142.58.126",
                "src_asn": M247,
                "user_agent": "python-requests",
            },
            # after T0 but someone else: coverage exists for the unused one
            {"time": ts("2023-10-22T09:00:00Z"), "credential_id": "other", "src_ip": "10.9.9.9"},
        ],
    )
    root = str(workspace.root)
    assert main(["-w", root, "exposure", "add", "--name", "okta-har", "--t0", T0, str(har)]) == 0
    capsys.readouterr()
    assert main(["-w", root, "exposure", "use", "okta-har", "--json"]) == 0
    rows = {r["credential_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {cred_api, cred_sess, cred_svc}

    api = rows[cred_api]
    assert (
        api["verdict"] == "USED"
        and api["uses"] == 2
        and api["successes"] == 1
        and api["failures"] == 1
    )
    assert api["first_use"].startswith("2023-10-19T09:00") and api["last_use"].startswith(
        "2023-10-20T09:00"
    )
    assert api["new_ips"] == [] and api["new_asns"] == [] and api["new_user_agents"] == []
    assert [e["origin"] for e in api["evidence"]] == ["okta.jsonl:4", "okta.jsonl:5"]
    assert "okta_api_token" in api["exposed_as"]

    sess = rows[cred_sess]
    assert sess["verdict"] == "USED" and sess["uses"] == 1
    assert sess["new_asns"] == [M247] and sess["new_ips"] == ["193.142.58.126"]
    assert sess["new_user_agents"] == ["python-requests"]
    assert sess["sessions"] == 1
    assert len(sess["replayed_sessions"]) == 1
    replay = sess["replayed_sessions"][0]
    assert replay["src_asn"] == M247 and replay["origin"] == "okta.jsonl:6"
    assert "102sessid" not in json.dumps(replay)  # shown by hint only
    assert {"what": f"first use from new ASN {M247}", "origin": "okta.jsonl:6"} in sess["evidence"]

    svc = rows[cred_svc]
    assert svc["verdict"] == "NOT_SEEN" and svc["uses"] == 0 and svc["uses_before_t0"] == 1
    assert svc["evidence"] == []


def test_use_is_unknown_without_events_after_t0(
    sqlite_workspace: Workspace, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    ws = sqlite_workspace
    cred = add_credential(ws, "okta", "api_token", "tok-9", "00" + "z" * 40)
    har = write_har(
        tmp_path / "a.har", [har_entry(headers=[("Authorization", "SSWS 00" + "z" * 40)])]
    )
    assert main(["-w", str(ws.root), "exposure", "add", "--name", "x", str(har)]) == 0
    capsys.readouterr()
    assert main(["-w", str(ws.root), "exposure", "use", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["credential_id"], r["verdict"]) for r in rows] == [(cred, "UNKNOWN")]
    assert rows[0]["t0"].startswith("2023-10-18T12:00")  # T0 from the HAR's earliest entry


def test_orphan_cookie_replayed_is_found_through_logged_session_values(
    sqlite_workspace: Workspace, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """No inventory entry owns the leaked web session, but the web server logs its value:
    the replay from the attacker's host still shows."""
    ws = sqlite_workspace
    cookie = "wsess_" + "Q" * 30
    har = write_har(
        tmp_path / "h.har", [har_entry(headers=[("Cookie", f"webapp_session={cookie}")])]
    )
    write_events(
        ws,
        "nginx",
        [
            {
                "time": ts("2023-10-17T08:00:00Z"),
                "session_id": cookie,
                "src_ip": "10.1.1.1",
                "src_asn": 64510,
            },
            {
                "time": ts("2023-11-14T03:00:00Z"),
                "session_id": cookie,
                "src_ip": "198.244.174.214",
                "src_asn": 16276,
            },
            {
                "time": ts("2023-11-14T03:01:00Z"),
                "session_id": "someone-elses-session",
                "src_ip": "10.1.1.2",
            },
        ],
    )
    assert main(["-w", str(ws.root), "exposure", "add", "--name", "h", "--t0", T0, str(har)]) == 0
    capsys.readouterr()
    assert main(["-w", str(ws.root), "exposure", "use", "h", "--json"]) == 0
    out = capsys.readouterr().out
    (row,) = json.loads(out)
    assert row["credential_id"].startswith("orphan:cookie:") and row["matched_by"] == "event value"
    assert row["verdict"] == "USED" and row["uses"] == 1 and row["new_asns"] == [16276]
    assert (
        len(row["replayed_sessions"]) == 1
        and row["replayed_sessions"][0]["origin"] == "nginx.jsonl:2"
    )
    assert cookie not in out
