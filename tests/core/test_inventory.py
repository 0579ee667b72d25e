"""Inventory import, re-import and listing, on both state stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.domain import Secret
from keyreaper.inventory import repo
from keyreaper.inventory.service import import_file
from keyreaper.workspace import Workspace

CSV = """provider,kind,identifier,owner,consumers,tags,claimed_status,claimed_by,claimed_at,secret
okta,service_token,0oa1moveworks,it,moveworks;jira,prod;gateway,unused,integrations,2023-10-20,tok-okta-0123456789abcdef
aws,access_key,AKIAZZZZZZZZZZZZZZZ1,platform,,prod,,,,
github,api_token,gh-1,dev,,ci,,,,
"""

JSON = """[
  {"provider": "redis", "kind": "password", "identifiers": ["cache-user"], "owner": "sre"},
  {"provider": "redis", "kind": "nope", "identifier": "x"},
  {"provider": "ssh", "kind": "ssh_key", "identifier": "SHA256:abc", "created": "yesterday"}
]
"""

YAML = """credentials:
  - provider: postgres
    kind: db_role
    identifier: app_rw
    owner: data
    tags: [prod, db]
  - provider: postgres
    kind: db_role
    owner: data
"""


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def test_import_all_formats_and_reimport_updates(workspace: Workspace, tmp_path: Path) -> None:
    rep = import_file(workspace, _write(tmp_path, "a.csv", CSV))
    assert (rep.inserted, rep.updated, rep.secrets_fingerprinted, rep.errors) == (3, 0, 1, [])
    rep = import_file(workspace, _write(tmp_path, "b.json", JSON))
    assert rep.inserted == 1
    assert [str(e.location) for e in rep.errors] == [
        f"{tmp_path}/b.json:3:kind",
        f"{tmp_path}/b.json:4:created",
    ]
    rep = import_file(workspace, _write(tmp_path, "c.yaml", YAML))
    assert rep.inserted == 1
    assert [str(e.location) for e in rep.errors] == [f"{tmp_path}/c.yaml:7:identifier"]
    assert repo.count(workspace.db) == 5

    changed = CSV.replace("it,moveworks", "secops,moveworks")
    rep = import_file(workspace, _write(tmp_path, "a.csv", changed))
    assert (rep.inserted, rep.updated) == (0, 3)
    assert repo.count(workspace.db) == 5
    cred = repo.get(workspace.db, "okta:service_token:0oa1moveworks")
    assert cred is not None and cred.owner == "secops"
    assert (
        cred.claim is not None and cred.claim.status == "unused" and cred.claim.date == "2023-10-20"
    )
    assert cred.consumers == ("moveworks", "jira")
    assert len(cred.fingerprints) == 1
    fp = workspace.fingerprinter.fingerprint(Secret("tok-okta-0123456789abcdef"))
    assert cred.fingerprints[0] == fp
    assert [r["id"] for r in repo.by_fingerprints(workspace.db, [fp.value])] == [cred.id]
    # Bulk readers take plain tuples; both stores must give the same rows as query().
    idmap = repo.identifier_map(workspace.db)
    assert idmap["0oa1moveworks"] == ["okta:service_token:0oa1moveworks"]
    sql = "SELECT id, kind FROM credentials WHERE provider = ? ORDER BY id"
    assert workspace.db.values(sql, ("okta",)) == [
        (r["id"], r["kind"]) for r in workspace.db.query(sql, ("okta",))
    ]


def test_filters(workspace: Workspace, tmp_path: Path) -> None:
    import_file(workspace, _write(tmp_path, "a.csv", CSV))
    ids = lambda **kw: [c.id for c in repo.list_credentials(workspace.db, repo.Filters(**kw))]  # noqa: E731
    assert ids(provider="aws") == ["aws:access_key:AKIAZZZZZZZZZZZZZZZ1"]
    assert ids(tag="gateway") == ["okta:service_token:0oa1moveworks"]
    assert ids(tag="prod") == [
        "aws:access_key:AKIAZZZZZZZZZZZZZZZ1",
        "okta:service_token:0oa1moveworks",
    ]
    assert ids(owner="dev", kind="api_token") == ["github:api_token:gh-1"]
    assert ids(tag="pro") == []


def test_cli_import_list_show_json(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ["--workspace", str(sqlite_workspace.root)]
    bad = _write(tmp_path, "bad.json", JSON)
    assert main([*ws, "inventory", "import", str(_write(tmp_path, "a.csv", CSV)), str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:3:kind: unknown kind 'nope'" in captured.err
    assert "Traceback" not in captured.err
    assert main([*ws, "inventory", "list", "--json", "--provider", "okta"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["id"] == "okta:service_token:0oa1moveworks"
    assert rows[0]["claimed_status"] == "unused"
    assert set(rows[0]) == {
        "id",
        "provider",
        "kind",
        "identifiers",
        "name",
        "owner",
        "consumers",
        "privilege",
        "created",
        "last_rotated",
        "expires",
        "tags",
        "claimed_status",
        "claimed_by",
        "claimed_at",
        "fingerprint_hints",
    }
    assert main([*ws, "inventory", "list", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("id,provider,kind") and len(lines) == 5
    assert main([*ws, "inventory", "show", "0oa1moveworks", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "okta:service_token:0oa1moveworks" and len(shown["fingerprints"]) == 1
    assert main([*ws, "inventory", "show", "nothing-here"]) == 2
    assert "no credential" in capsys.readouterr().err


def test_unreadable_file_and_bad_json_are_clear(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ["--workspace", str(sqlite_workspace.root)]
    broken = _write(tmp_path, "broken.json", '[{"provider": "x",\n "kind": }]')
    assert main([*ws, "inventory", "import", str(broken), str(tmp_path / "missing.csv")]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:2:" in err and "invalid JSON" in err
    assert "missing.csv: cannot read" in err
    assert "Traceback" not in err


def test_fingerprint_command_reads_stdin_and_finds_matches(
    sqlite_workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    ws = ["--workspace", str(sqlite_workspace.root)]
    main([*ws, "inventory", "import", str(_write(tmp_path, "a.csv", CSV))])
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("tok-okta-0123456789abcdef\n"))
    assert main([*ws, "fingerprint", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in got["credentials"]] == ["okta:service_token:0oa1moveworks"]
    assert got["hint"] == "tok-…cdef"
    monkeypatch.setattr("sys.stdin", io.StringIO("something else entirely\n"))
    assert main([*ws, "fingerprint", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["credentials"] == []
