"""exposure add / list / show: HAR, breach lists and scanner findings; T0 and its source;
matching by fingerprint and identifier; orphans; no plaintext anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.domain import Secret
from keyreaper.workspace import Workspace
from tests.exposure.helpers import add_credential, har_entry, write_har

CANARY = "kr_canary_" + "Q7x9" * 8


def _run(ws: Workspace, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-w", str(ws.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _all_bytes(ws: Workspace) -> bytes:
    return b"".join(p.read_bytes() for p in ws.root.rglob("*") if p.is_file())


def test_har_items_match_by_fingerprint_and_identifier(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    by_fp = add_credential(ws, "acme", "api_token", "key-1", CANARY)
    by_id = add_credential(ws, "cloudflare", "service_token", "abc.access", None)
    har = write_har(
        tmp_path / "x.har",
        [
            har_entry(
                headers=[("X-API-Key", CANARY)],
                started="2023-10-18T12:00:05Z",
                url="https://app.example.com/u/abcdef0123456789abcdef?code=zzzzzzzzzz&page=2",
            ),
            har_entry(
                headers=[
                    ("CF-Access-Client-Id", "abc.access"),
                    ("CF-Access-Client-Secret", "s" * 40),
                ],
                started="2023-10-18T11:59:00Z",
            ),
            har_entry(headers=[("Cookie", "_ga=GA1.2.99999; orphan_sid=" + "o" * 30)]),
        ],
    )
    code, out, err = _run(ws, capsys, "exposure", "add", "--name", "okta", str(har), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["t0"].startswith("2023-10-18T11:59:00")
    assert "entries[1]" in summary["t0_source"] and "x.har" in summary["t0_source"]
    code, out, _ = _run(ws, capsys, "exposure", "show", "okta", "--json")
    shown = json.loads(out)
    items = {i["kind"]: i for i in shown["items"]}
    assert items["api_key"]["credentials"] == [by_fp] and items["api_key"]["matched_by"] == [
        "fingerprint"
    ]
    secret_item = items["service_token_secret"]
    assert secret_item["identifier"] == "abc.access" and secret_item["credentials"] == [by_id]
    assert secret_item["matched_by"] == ["identifier"]
    ev = items["api_key"]["evidence"]
    assert ev["entry"] == 0 and ev["location"] == "request.header" and ev["name"] == "X-API-Key"
    assert ev["url"] == "https://app.example.com/u/…?code=…&page=…"  # secrets removed from the URL
    code, out, _ = _run(ws, capsys, "exposure", "show", "okta", "--orphans", "--json")
    orphans = json.loads(out)["items"]
    assert {o["evidence"]["name"] for o in orphans} >= {"orphan_sid", "_ga", "code"}
    assert all(o["orphan"] for o in orphans)
    code, out, _ = _run(ws, capsys, "exposure", "list", "--json")
    (row,) = json.loads(out)
    assert row["matched_items"] == 2 and row["credentials"] == 2 and row["orphans"] == len(orphans)
    assert CANARY.encode() not in _all_bytes(ws)
    assert b"o" * 30 not in _all_bytes(ws)


def test_inventory_imported_later_still_matches(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    har = write_har(
        tmp_path / "x.har", [har_entry(headers=[("Authorization", "Bearer " + CANARY)])]
    )
    assert _run(ws, capsys, "exposure", "add", "--name", "e", str(har))[0] == 0
    cred = add_credential(ws, "acme", "api_token", "k", CANARY)
    _, out, _ = _run(ws, capsys, "exposure", "show", "e", "--json")
    assert json.loads(out)["items"][0]["credentials"] == [cred]
    rows = ws.db.query("SELECT credential_id FROM exposure_items WHERE exposure = 'e'")
    assert rows == [{"credential_id": cred}]


def test_breach_lists_and_findings(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    by_ident = add_credential(ws, "aws", "access_key", "AKIAEXAMPLEEXAMPLE01", None)
    by_secret = add_credential(ws, "acme", "api_token", "t-2", CANARY)
    by_finding = add_credential(ws, "github", "api_token", "gh-1", "ghp_" + "f" * 36)
    csv_file = tmp_path / "breach.csv"
    csv_file.write_text(
        "kind,identifier,secret,date\n"
        "access_key,AKIAEXAMPLEEXAMPLE01,,2023-10-20T00:00:00Z\n"
        f"api_token,,{CANARY},2023-10-19T08:00:00Z\n"
        ",,,\n"
    )
    json_file = tmp_path / "ids.json"
    json_file.write_text(json.dumps(["user-77", "tok-88"]))
    fp = ws.fingerprinter.fingerprint(Secret("ghp_" + "f" * 36))
    findings = tmp_path / "findings.json"
    findings.write_text(
        json.dumps(
            [
                {
                    "rule_id": "github-pat",
                    "location": "repo/app.py:12",
                    "fingerprint": str(fp),
                    "hint": fp.hint,
                    "date": "2023-10-25T00:00:00Z",
                },
                {"rule_id": "x", "location": "y", "fingerprint": "not-a-fingerprint"},
            ]
        )
    )
    code, out, err = _run(
        ws,
        capsys,
        "exposure",
        "add",
        "--name",
        "breach",
        str(csv_file),
        str(json_file),
        str(findings),
        "--json",
    )
    assert code == 1  # two bad records are reported, the rest is taken
    assert "breach.csv:4" in err and "findings.json:[1]" in err
    summary = json.loads(out)
    assert summary["t0"].startswith("2023-10-19T08:00") and "breach.csv" in summary["t0_source"]
    assert {f["status"] for f in summary["file_results"]} == {"ok", "partial"}
    _, out, _ = _run(ws, capsys, "exposure", "show", "breach", "--json")
    matched = {c for i in json.loads(out)["items"] for c in i["credentials"]}
    assert matched == {by_ident, by_secret, by_finding}
    assert CANARY.encode() not in _all_bytes(ws) and CANARY not in out + err


def test_given_t0_wins_and_is_recorded(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = write_har(tmp_path / "x.har", [har_entry(headers=[("X-Auth-Token", CANARY)])])
    code, out, _ = _run(
        sqlite_workspace,
        capsys,
        "exposure",
        "add",
        "--name",
        "n",
        "--t0",
        "2023-10-02T00:00:00Z",
        str(har),
        "--json",
    )
    assert code == 0
    assert json.loads(out)["t0_source"] == "given (--t0)"
    assert (
        _run(
            sqlite_workspace,
            capsys,
            "exposure",
            "add",
            "--name",
            "n",
            "--t0",
            "yesterday",
            str(har),
        )[0]
        == 2
    )


def test_adding_the_same_file_twice_does_not_double_count(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = write_har(tmp_path / "x.har", [har_entry(headers=[("X-Auth-Token", CANARY)])])
    assert _run(sqlite_workspace, capsys, "exposure", "add", "--name", "n", str(har))[0] == 0
    code, _, err = _run(sqlite_workspace, capsys, "exposure", "add", "--name", "n", str(har))
    assert code == 0 and "already in exposure" in err
    _, out, _ = _run(sqlite_workspace, capsys, "exposure", "show", "n", "--json")
    assert [i["occurrences"] for i in json.loads(out)["items"]] == [1]


def test_choose_t0_rules() -> None:
    from datetime import UTC, datetime

    from keyreaper.domain import Exposure
    from keyreaper.exposure.intake import FileResult, choose_t0

    early, late = datetime(2023, 10, 1, tzinfo=UTC), datetime(2023, 10, 5, tzinfo=UTC)
    r = FileResult("a.har", "har", earliest=late, earliest_where="startedDateTime of entries[3]")
    assert choose_t0(None, [r], None) == (
        late,
        "earliest timestamp in the artifacts: startedDateTime of entries[3] of a.har",
    )
    assert choose_t0(early, [r], None) == (early, "given (--t0)")
    inferred = Exposure("x", early, "earliest timestamp in the artifacts: ...")
    assert choose_t0(None, [r], inferred)[0] == early  # an earlier inferred T0 stays
    given_late = Exposure("x", late, "given (--t0)")
    r2 = FileResult("b.har", "har", earliest=early, earliest_where="w")
    assert choose_t0(None, [r2], given_late)[0] == late  # a given T0 is never moved
    assert choose_t0(None, [FileResult("c.csv", "list-csv")], None)[0] is None
