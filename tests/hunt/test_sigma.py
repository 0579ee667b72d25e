"""Sigma: SigmaHQ's Okta, Bitbucket, GitHub audit and CloudTrail rules all convert and run on
the store (docs/sigma.md lists any that cannot, and this test keeps that table true); missing
fields give a coverage note, not an error; correlations honour their timespans."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO, shared_data
from tests.hunt import events

from keyreaper.events.store import EventStore
from keyreaper.hunt import sigma_run
from keyreaper.workspace import Workspace

DOC = REPO / "docs" / "sigma.md"


def _documented_failures() -> set[str]:
    text = DOC.read_text()
    block = text.split("<!-- cannot-run:start -->")[1].split("<!-- cannot-run:end -->")[0]
    return {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", block, re.M)}


def test_sigmahq_rules_all_run(sqlite_workspace: Workspace) -> None:
    data = shared_data()
    store = EventStore(sqlite_workspace.events_dir)
    for fname, source in (("okta", "okta"), ("aws_cloudtrail", "cloudtrail"), ("github", "github")):
        recs = [
            json.loads(x)["log"]
            for x in (data / "rule-tests" / f"{fname}.jsonl").read_text().splitlines()
        ]
        events.write(store, source, recs, name=fname)
    for log in (data / "logs" / "atlassian_bitbucket").glob("*.log"):
        events.write(
            store,
            "bitbucket",
            [json.loads(x) for x in log.read_text().splitlines() if x.strip()],
            name=log.stem,
        )
    collection = sigma_run.load([data / "sigma"])
    assert len(collection.rules) == 109
    con = store.connect()
    results = sigma_run.run_collection(con, collection)
    failed = {r.rule_id for r in results if r.error}
    assert failed == _documented_failures()
    fired = [r for r in results if r.hits]
    # Panther's tests include the events several SigmaHQ rules look for.
    titles = {r.title for r in fired}
    assert {"Okta API Token Created", "AWS User Login Profile Was Modified"} <= titles
    assert len(fired) >= 30
    assert all(h.origin for r in fired for h in r.hits)


def _write(ws: Workspace, rows: list[dict[str, Any]]) -> EventStore:
    store = EventStore(ws.events_dir)
    events.write(store, "okta", rows, name="okta")
    return store


def _okta(minute: int, actor: str, etype: str, ip: str = "10.0.0.1") -> dict[str, Any]:
    when = datetime(2024, 5, 1, 12, tzinfo=UTC) + timedelta(minutes=minute)
    return {"published": when.isoformat(), "eventType": etype, "actor": {"alternateId": actor},
            "client": {"ipAddress": ip}, "target": [{"displayName": "Okta Admin Console"}, {"displayName": "svc_backup"}]}  # fmt: skip


def test_array_field_and_missing_field(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    store = _write(
        sqlite_workspace,
        [_okta(0, "a", "user.lifecycle.create"), _okta(1, "b", "user.session.start")],
    )
    rule = tmp_path / "r.yml"
    rule.write_text("""
title: array
id: 11111111-1111-4111-8111-111111111111
logsource: {product: okta, service: okta}
detection:
    selection:
        target.displayName|endswith: _backup
        eventType: user.lifecycle.create
    condition: selection
---
title: missing
id: 22222222-2222-4222-8222-222222222222
logsource: {product: okta, service: okta}
detection:
    selection:
        debugContext.debugData.nosuchfield: x
    filter:
        also.absent: y
    condition: selection and not filter
""")
    con = store.connect()
    array, missing = sigma_run.run_collection(con, sigma_run.load([rule]))
    assert [h.actor for h in array.hits] == ["a"] and not array.error
    assert not missing.hits and not missing.error
    assert {n.reason for n in missing.notes} == {
        "field 'debugContext.debugData.nosuchfield' never present in okta events",
        "field 'also.absent' never present in okta events",
    }


CORR = """
title: base
id: 33333333-3333-4333-8333-333333333333
name: base
logsource: {product: okta, service: okta}
detection:
    selection: {eventType: user.session.start}
    condition: selection
---
title: other
id: 44444444-4444-4444-8444-444444444444
name: other
logsource: {product: okta, service: okta}
detection:
    selection: {eventType: system.api_token.create}
    condition: selection
---
title: corr
id: 55555555-5555-4555-8555-555555555555
correlation:
    type: %s
    rules: %s
    group-by: [actor_name]
    timespan: 10m
    condition: %s
"""


@pytest.mark.parametrize(
    ("ctype", "rules", "cond", "expect"),
    [
        ("event_count", "[base]", "{gte: 3}", ["burst"]),  # 3 in 10 min; "slow" spreads 3 over 30
        ("value_count", "[base]", "{gte: 2, field: src_ip}", ["burst"]),
        (
            "temporal",
            "[base, other]",
            "null",
            ["slow"],
        ),  # token 5 min after a login; burst has none
    ],
)
def test_correlation_timespan(sqlite_workspace: Workspace, tmp_path: Path, ctype: str, rules: str,
                              cond: str, expect: list[str]) -> None:  # fmt: skip
    rows = [
        _okta(m, "burst", "user.session.start", ip)
        for m, ip in ((0, "1.1.1.1"), (4, "2.2.2.2"), (9, "1.1.1.1"))
    ]
    rows += [_okta(m, "slow", "user.session.start") for m in (0, 15, 30)]
    rows += [_okta(35, "slow", "system.api_token.create")]
    store = _write(sqlite_workspace, rows)
    path = tmp_path / "c.yml"
    text = CORR % (ctype, rules, cond)
    path.write_text(text.replace("    condition: null\n", ""))
    results = sigma_run.run_collection(store.connect(), sigma_run.load([path]))
    corr = next(r for r in results if r.kind == "correlation")
    assert not corr.error, corr.error
    assert sorted({h.actor for h in corr.hits}) == expect


ORDER_ROWS = [
    (0, "right", "user.session.start"), (5, "right", "system.api_token.create"),
    (0, "reversed", "system.api_token.create"), (5, "reversed", "user.session.start"),
    (0, "late", "user.session.start"), (15, "late", "system.api_token.create"),
    (0, "both", "system.api_token.create"), (2, "both", "user.session.start"),
    (6, "both", "system.api_token.create"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("ctype", "rules", "expect"),
    [
        ("temporal_ordered", "[base, other]", {"right": 1, "both": 1}),
        ("temporal", "[base, other]", {"right": 1, "reversed": 1, "both": 1}),  # order ignored
        ("temporal_ordered", "[other, base]", {"reversed": 1, "both": 1}),
        ("temporal_ordered", "[other, base, other]", {"both": 1}),  # a rule listed twice
    ],
)
def test_temporal_ordered_checks_order(sqlite_workspace: Workspace, tmp_path: Path, ctype: str,
                                       rules: str, expect: dict[str, int]) -> None:  # fmt: skip
    store = _write(sqlite_workspace, [_okta(m, actor, etype) for m, actor, etype in ORDER_ROWS])
    path = tmp_path / "c.yml"
    path.write_text((CORR % (ctype, rules, "null")).replace("    condition: null\n", ""))
    results = sigma_run.run_collection(store.connect(), sigma_run.load([path]))
    corr = next(r for r in results if r.kind == "correlation")
    assert not corr.error, corr.error
    got: dict[str, int] = {}
    for h in corr.hits:
        got[h.actor] = got.get(h.actor, 0) + 1
    assert got == expect
    if ctype == "temporal_ordered":
        for h in corr.hits:  # the chain's events, in the rules' order
            assert len(h.detail["sequence"]) == rules.count(",") + 1
            assert h.detail["window_end"] >= h.time.isoformat()
