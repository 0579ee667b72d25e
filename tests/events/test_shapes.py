"""Record shapes the third-party fixtures do not cover, written by hand from the vendors'
published formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.events.conftest import parse_bytes, source_for


def _one(record: dict[str, object]) -> dict[str, object]:
    rows, rejects = parse_bytes(json.dumps(record).encode() + b"\n")
    assert rejects == []
    assert len(rows) == 1
    return rows[0]


def test_atlassian_org_audit_page() -> None:
    page = {
        "data": [
            {
                "id": "evt-1",
                "type": "events",
                "attributes": {
                    "time": "2026-02-01T10:00:00.000Z",
                    "action": "user_added_to_group",
                    "actor": {"id": "acc-1", "name": "Svc", "email": "svc@example.test"},
                    "context": [
                        {"id": "grp-1", "type": "groups", "attributes": {"name": "admins"}}
                    ],
                    "location": {"ip": "192.0.2.44"},
                },
            }
        ],
        "links": {},
    }
    data = json.dumps(page).encode()
    assert source_for(data).name == "atlassian_org"
    rows, rejects = parse_bytes(data)
    assert rejects == []
    row = rows[0]
    assert row["event_type"] == "user_added_to_group"
    assert row["actor_name"] == "svc@example.test" and row["src_ip"] == "192.0.2.44"
    assert row["target_name"] == "admins" and row["origin"] == "mem#0"


def test_cloudtrail_logstash_export() -> None:
    row = _one(
        {
            "@timestamp": "2026-02-01T10:00:00.000Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": "CreateAccessKey",
            "userIdentity": {"type": "IAMUser", "accessKeyId": "AKIALOGSTASH00000001"},
            "sourceIPAddress": "192.0.2.5, 10.0.0.1",
            "responseElements": {"accessKey": {"accessKeyId": "AKIANEWKEY0000000001"}},
        }
    )
    assert row["source"] == "cloudtrail"
    assert row["time"] == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert row["src_ip"] == "192.0.2.5"
    assert row["issued_credential_id"] == "AKIANEWKEY0000000001"


def test_google_workspace_events_list() -> None:
    row = _one(
        {
            "kind": "admin#reports#activity",
            "id": {"time": "2026-02-01T10:00:00Z", "applicationName": "login"},
            "actor": {"email": "a@example.test"},
            "ipAddress": "192.0.2.6",
            "events": [
                {
                    "type": "login",
                    "name": "login_failure",
                    "parameters": [{"name": "login_type", "value": "google_password"}],
                },
                {"type": "login", "name": "login_verification"},
            ],
        }
    )
    assert row["event_type"] == "login_failure" and row["outcome"] == "failure"
    assert row["credential_kind"] == "google_password"


def test_kubernetes_token_credential_id() -> None:
    row = _one(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "auditID": "a-1",
            "verb": "list",
            "user": {
                "username": "system:serviceaccount:ci:deployer",
                "extra": {"authentication.kubernetes.io/credential-id": ["JTI=abc-123"]},
            },
            "sourceIPs": ["192.0.2.7"],
            "responseStatus": {"code": 403},
            "requestReceivedTimestamp": "2026-02-01T10:00:00.123456Z",
        }
    )
    assert row["credential_id"] == "JTI=abc-123" and row["credential_kind"] == "api_token"
    assert row["outcome"] == "failure"
    assert row["time"] == datetime(2026, 2, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_github_epoch_millis_and_token() -> None:
    row = _one(
        {
            "@timestamp": 1769940000000,
            "action": "git.clone",
            "actor": "bot",
            "actor_ip": "192.0.2.8",
            "org": "o",
            "token_id": 991,
            "repo": "o/r",
        }
    )
    assert row["time"] == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert row["credential_id"] == "991" and row["credential_kind"] == "api_token"
