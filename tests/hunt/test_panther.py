"""Built-in hunts against Panther's labelled rule tests (third-party ExpectedResult).

Each built-in hunt with a Panther counterpart gets every test event of that rule; the hunt
must fire exactly where Panther expects an alert. Known, explained disagreements are listed in
DISAGREE (strict xfail: if one starts agreeing the list must shrink)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import SHARED_DATA, shared_data
from tests.hunt import events

from keyreaper.events.store import EventStore
from keyreaper.hunt import packs
from keyreaper.workspace import Workspace, init

COUNTERPARTS = {
    "api_token_created": ("Okta.APIKeyCreated", "GitHub.User.AccessKeyCreated"),
    "admin_grant": ("Okta.AdminRoleAssigned", "Okta.Group.Admin.Role.Assigned",
                    "GitHub.User.RoleUpdated", "GitHub.Org.Moderators.Add"),
    "admin_via_proxy_or_new_asn": ("Okta.Anonymizing.VPN.Login",
                                   "Okta.New.Behavior.Accessing.Admin.Console"),
    "github_app_installed": ("Github.Organization.App.Integration.Installed",),
    "session_replay_new_network": ("Okta.PotentiallyStolenSession",),
}  # fmt: skip
SOURCES = {"okta.jsonl": "okta", "github.jsonl": "github", "aws_cloudtrail.jsonl": "cloudtrail"}
DISAGREE: dict[str, str] = {}


def _cases() -> list[tuple[str, dict[str, Any], str]]:
    if not SHARED_DATA.is_dir():
        return []
    wanted = {r: h for h, rules in COUNTERPARTS.items() for r in rules}
    out = []
    for fname, source in SOURCES.items():
        for line in (SHARED_DATA / "rule-tests" / fname).read_text().splitlines():
            case = json.loads(line)
            if case["rule_id"] in wanted:
                out.append((wanted[case["rule_id"]], case, source))
    return out


CASES = _cases()


def _id(c: tuple[str, dict[str, Any], str]) -> str:
    return f"{c[1]['rule_id']}::{c[1]['test_name']}"


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bool]]:
    """Test id -> did the hunt fire; each test event alone in its own store."""
    shared_data()
    out: dict[str, bool] = {}
    ws = Workspace(init(tmp_path_factory.mktemp("panther")))
    for n, (hunt, case, source) in enumerate(CASES):
        store = EventStore(ws.events_dir / f"case{n}")
        events.write(store, source, [case["log"]], name=f"case{n}")
        con = store.connect()
        try:
            results = packs.run(con, packs.select([hunt]))
            out[_id((hunt, case, source))] = any(r.hits for r in results)
        finally:
            con.close()
    ws.close()
    yield out


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_hunt_agrees_with_panther(
    case: tuple[str, dict[str, Any], str], verdicts: dict[str, bool]
) -> None:
    hunt, test, _ = case
    if test.get("mocks"):
        pytest.skip(
            "Panther's test needs mocks (a baseline lookup) that a single event cannot carry"
        )
    if _id(case) in DISAGREE:
        pytest.xfail(DISAGREE[_id(case)])
    assert verdicts[_id(case)] == bool(test["expected_result"]), f"{hunt} on {_id(case)}"


def test_agreement_summary(verdicts: dict[str, bool]) -> None:
    judged = [c for c in CASES if not c[1].get("mocks")]
    agree = sum(verdicts[_id(c)] == bool(c[1]["expected_result"]) for c in judged)
    print(f"\nPanther agreement: {agree} of {len(judged)} judged tests")
    assert judged and agree >= len(judged) - len(DISAGREE)
