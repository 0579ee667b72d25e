"""Every event in each Elastic `-expected.json` beside a fixture: our time, source IP, actor
and action (and outcome where Elastic gives one) equal Elastic's values."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_DATA, shared_data
from tests.events.conftest import parse_bytes


def _expected_files() -> list[Path]:
    return sorted((SHARED_DATA / "logs").rglob("*-expected.json")) if SHARED_DATA.is_dir() else []


def _cases() -> list[Any]:
    cases = []
    for path in _expected_files():
        docs = json.loads(path.read_text())["expected"]
        for i, doc in enumerate(docs):
            if "original" in doc.get("event", {}):  # upstream's trailing empty docs have none
                cases.append(pytest.param(path, i, id=f"{path.parent.name}/{path.name}#{i}"))
    return cases or [pytest.param(None, 0, id="no-shared-data")]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


@pytest.mark.parametrize(("path", "index"), _cases())
def test_matches_elastic_expected(path: Path | None, index: int) -> None:
    shared_data()
    assert path is not None
    doc = json.loads(path.read_text())["expected"][index]
    rows, rejects = parse_bytes(doc["event"]["original"].encode())
    assert rejects == []
    assert len(rows) == 1
    row = rows[0]
    if "@timestamp" in doc:
        expected = datetime.fromisoformat(doc["@timestamp"])
        # Elastic's @timestamp has millisecond precision; we keep microseconds.
        assert row["time"].replace(microsecond=row["time"].microsecond // 1000 * 1000) == expected
    ip = _first((doc.get("source") or {}).get("ip")) or _first((doc.get("client") or {}).get("ip"))
    if ip or doc.get("source"):
        assert row["src_ip"] == ip
    user = doc.get("user") or {}
    if "id" in user:
        assert row["actor_id"] == str(user["id"])
    if "name" in user:
        assert row["actor_name"] == user["name"]
    elif "email" in user:
        assert row["actor_name"] == user["email"]
    event = doc["event"]
    if "action" in event:
        assert row["event_type"] == event["action"]
    if "outcome" in event:
        assert row["outcome"] == event["outcome"]
    assert row["raw"] and row["origin"]


def test_every_fixture_parses() -> None:
    """Every third-party log parses completely; the only rejects are listed here."""
    from tests.events.conftest import parse_file

    logs = sorted((shared_data() / "logs").rglob("*.log"))
    assert len(logs) >= 30
    for path in logs:
        source, rows, rejects = parse_file(path)
        records = sum(1 for line in path.read_bytes().splitlines() if line.strip())
        assert rejects == [], f"{path}: {rejects}"
        assert len(rows) == records, f"{path}: {len(rows)} events from {records} records"
        assert source == _EXPECTED_SOURCE.get(path.parent.name) or (
            path.parent.name.startswith("atlassian") and source in _ATLASSIAN[path.parent.name]
        ), f"{path}: detected as {source}"


_EXPECTED_SOURCE = {
    "aws_cloudtrail": "cloudtrail",
    "okta": "okta",
    "github": "github",
    "google_workspace": "google_workspace",
    "cloudflare_access": "cloudflare_access",
    "kubernetes_audit": "kubernetes",
}
_ATLASSIAN = {
    "atlassian_bitbucket": {"bitbucket"},
    "atlassian_confluence": {"confluence"},
    "atlassian_jira": {"jira"},
}
