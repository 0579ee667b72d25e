"""`make demo`, asserted: the same steps as scripts/demo.py, in a temporary workspace, must
tell the story of the example incident — with evidence that points at the attacker's lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keyreaper.cli import main
from tests.demo.scripts import EXAMPLE, REPO, demo, load

ATTACKER = "193.142.58.126"
# each credential claimed unused, and the log that proves its use
CLAIMED_UNUSED = {
    "moveworks-token": "cloudflare_access",
    "smartsheet-svc": "jira",
    "bitbucket-svc": "bitbucket",
    "aws-probe-key": "cloudtrail",
}


generate = load("keyreaper_example_incident", EXAMPLE / "generate.py")


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    ws = tmp_path_factory.mktemp("demo") / "ws"
    return ws, demo.run(ws, echo=False)


def _json(flow: tuple[Path, dict[str, Any]], step: str) -> Any:
    return json.loads(flow[1][step].out)


def _record(origin: str) -> str:
    """The log record an origin names: `file:line`, or `file#index` into a Records list."""
    if "#" in origin:
        path, index = origin.rsplit("#", 1)
        return json.dumps(json.loads((REPO / path).read_text())["Records"][int(index)])
    path, line = origin.rsplit(":", 1)
    return (REPO / path).read_text().splitlines()[int(line) - 1]


def test_committed_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    for path in generate.write(tmp_path):
        committed = EXAMPLE / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), f"{committed}: run generate.py"
    total = sum(p.stat().st_size for p in EXAMPLE.rglob("*") if p.is_file())
    assert total < 2_000_000


def test_every_step_ran_and_every_log_was_read(flow: tuple[Path, dict[str, Any]]) -> None:
    results = flow[1]
    assert [s.name for s in demo.STEPS] == list(results)
    assert results["usage"].code == 1  # a critical flag is a finding
    assert "0 rejected" in results["ingest"].err + results["ingest"].out
    code = main(["--workspace", str(flow[0]), "logs", "sources", "--json"])
    assert code == 0


def test_the_four_claimed_unused_were_used_by_the_attacker(
    flow: tuple[Path, dict[str, Any]],
) -> None:
    rows = {r["credential_id"]: r for r in _json(flow, "usage")}
    for cred, expected_source in CLAIMED_UNUSED.items():
        r = rows[cred]
        assert r["claim"] == "unused"
        assert r["verdict"] == "USED" and r["severity"] == "critical", cred
        assert "critical:claimed_unused_but_used" in r["flags"]
        assert ATTACKER in r["distinct_ips"]
        source, origin = r["last_evidence"].split(" ", 1)
        # the evidence is the attacker's own record, in the source it names
        assert source == expected_source and ATTACKER in _record(origin), (cred, origin)
    assert rows["aws-probe-key"]["last_use"].startswith(
        "2023-11-14"
    )  # probing; denials don't count
    assert rows["smartsheet-svc"]["last_use"].startswith("2023-11-23T16:00")  # the admin group
    assert "CRITICAL smartsheet-svc" in flow[1]["usage"].err


def test_not_seen_and_unknown_are_what_the_logs_allow(flow: tuple[Path, dict[str, Any]]) -> None:
    rows = {r["credential_id"]: r for r in _json(flow, "usage")}
    legacy = rows["legacy-jump-key"]
    assert legacy["verdict"] == "NOT_SEEN" and legacy["gaps"] == []
    assert legacy["sources_searched"] and legacy["sources_searched"][0].startswith("sshd ")
    db = rows["billing-db-role"]
    assert db["verdict"] == "UNKNOWN" and db["gaps"] == ["postgresql: no events ingested"]
    wiki = rows["wiki-export-svc"]  # the wiki's audit export missed three days
    assert wiki["verdict"] == "UNKNOWN"
    assert wiki["gaps"] == ["confluence: no events on 2023-10-28..2023-10-30"]
    assert rows["deploy-key"]["verdict"] == "USED" and not rows["deploy-key"]["severity"]


def test_exposure_use_shows_the_replayed_session(flow: tuple[Path, dict[str, Any]]) -> None:
    rows = {r["credential_id"]: r for r in _json(flow, "exposure-use")}
    session = rows["okta-admin-session"]
    assert session["verdict"] == "USED" and session["uses_before_t0"] > 0
    assert session["new_ips"] == [ATTACKER] and session["new_asns"] == [9009]
    (replay,) = session["replayed_sessions"]
    assert replay["src_ip"] == ATTACKER and replay["src_asn"] == 9009
    assert replay["first_time"] == "2023-10-18T14:31:00+00:00"
    assert ATTACKER in _record(replay["origin"])
    token = rows["okta-admin-token"]
    assert token["verdict"] == "USED" and token["new_ips"] == [ATTACKER]


def test_orphans_are_the_secrets_nobody_owns(
    flow: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    ws = str(flow[0])
    assert main(["-w", ws, "exposure", "show", "okta-support-har", "--orphans", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    names = {i["evidence"]["name"] for i in items}
    assert names == {"DT", "JSESSIONID", "_ga", "ln", "X-Okta-XsrfToken"}
    assert all(i["orphan"] and not i["credentials"] for i in items)


def test_hunt_finds_the_attacker_with_origins(flow: tuple[Path, dict[str, Any]]) -> None:
    hits = _json(flow, "hunt")["hits"]
    ioc = [h for h in hits if h["kind"] == "ioc" and h["indicator"] == ATTACKER]
    assert {h["source"] for h in ioc} >= {
        "okta", "cloudtrail", "cloudflare_access", "web_access", "jira", "bitbucket", "sshd",
    }  # fmt: skip
    for h in ioc[:: max(1, len(ioc) // 25)]:
        assert ATTACKER in _record(h["origin"]), h
    by = {(h["hunt"], h["time"][:10]) for h in hits}
    for expected in [
        ("session_replay_new_network", "2023-10-18"),
        ("impossible_travel", "2023-10-18"),
        ("cloudtrail_key_role_outside_baseline", "2023-11-14"),
        ("atlassian_secret_search_burst", "2023-11-15"),
        ("lookalike_service_account", "2023-11-16"),
        ("atlassian_plugin_install", "2023-11-22"),
        ("bitbucket_mass_clone", "2023-11-23"),
        ("atlassian_service_account_admin_group", "2023-11-23"),
    ]:
        assert expected in by, expected
    assert _json(flow, "hunt")["rule_errors"] == []


def test_sweep_and_timeline_tell_nov_14_to_nov_23_in_order(
    flow: tuple[Path, dict[str, Any]],
) -> None:
    ws, results = flow
    sweep = [(h["time"][:10], h["detail"]["what"], h["target"]) for h in _json(flow, "sweep")]
    assert sweep == [
        ("2023-11-16", "user", "smartsheet-svcs"),
        ("2023-11-22", "plugin", "ScriptRunner for Jira"),
        ("2023-11-23", "group_grant", "jira-administrators"),
    ]
    rows = _json(flow, "timeline")
    times = [r["time"] for r in rows]
    assert times == sorted(times)

    def first(pred: Any) -> int:
        return next(i for i, r in enumerate(rows) if pred(r))

    steps = [
        first(lambda r: r["lane"] == "exposure"),
        first(lambda r: r["time"].startswith("2023-11-14") and r["source"] == "cloudtrail"),
        first(lambda r: r["what"].startswith("atlassian_secret_search_burst")),
        first(lambda r: r["what"].startswith("lookalike_service_account")),
        first(lambda r: r["what"].startswith("atlassian_plugin_install")),
        first(lambda r: r["what"].startswith("atlassian_service_account_admin_group")),
    ]
    assert steps == sorted(steps)
    assert rows[steps[-1]]["time"] == "2023-11-23T16:00:00+00:00"
    assert (ws / "timeline.png").stat().st_size > 10_000
    assert "193.142.58[.]126" in results["export-table"].out
    bundle = json.loads((ws / "iocs.stix.json").read_text())
    assert any(ATTACKER in o.get("pattern", "") for o in bundle["objects"])


def test_no_planted_secret_anywhere(flow: tuple[Path, dict[str, Any]]) -> None:
    ws, results = flow
    secrets = generate.PLANTED_SECRETS
    har = (EXAMPLE / "har" / "okta-support-case.har").read_text()
    assert all(s in har for s in secrets)  # the canary is really in the input
    forms = [f for s in secrets for f in demo.encodings(s)]
    assert len(forms) > len(secrets) * 3
    for name, r in results.items():
        for form in forms:
            assert form not in r.out and form not in r.err, f"{name} printed a secret"
    files = [p for p in ws.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".har") for p in files) and len(files) > 5
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form.encode() not in data, f"{path} holds a planted secret"
    assert results["canary"].code == 0


def test_wiki_scan_and_code_red_plan(flow: tuple[Path, dict[str, Any]]) -> None:
    ws, results = flow
    assert results["scan"].code == 1  # new findings
    code = main(["--workspace", str(ws), "exposure", "show", "wiki-scan", "--json"])
    assert code == 0
    code = main(["--workspace", str(ws), "campaign", "plan", "code-red-check", "--all", "--json"])
    assert code == 0


def test_code_red_plan_never_skips_the_claimed_unused(flow: tuple[Path, dict[str, Any]]) -> None:
    from keyreaper.workspace import Workspace

    w = Workspace.open(str(flow[0]))
    try:
        rows = {
            r["credential_id"]: r
            for r in w.db.query("SELECT * FROM campaign_items WHERE campaign = ?", ("code-red",))
        }
    finally:
        w.close()
    for cred in CLAIMED_UNUSED:
        assert rows[cred]["action"] in ("rotate", "blocked"), cred  # never skipped
        if rows[cred]["action"] == "blocked":
            assert "no provider named" in rows[cred]["reason"]
    assert rows["aws-probe-key"]["action"] == "rotate"
    assert "CLAIMED UNUSED" in rows["aws-probe-key"]["reason"]
    assert rows["okta-admin-session"]["action"] == "revoke"
