"""The scanner's own JSON output is an exposure input, matched by fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.workspace import Workspace

KEY_ID = "AKIAQ7RZ4WXKD3PLMNTB"
SECRET = "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"


def test_scan_json_feeds_exposure_add(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ["--workspace", str(sqlite_workspace.root)]
    page = tmp_path / "export" / "page.yaml"
    page.parent.mkdir()
    page.write_text(f"aws_access_key_id: {KEY_ID}\naws_secret_access_key: {SECRET}\n")
    inv = tmp_path / "inv.csv"
    inv.write_text(f"provider,kind,identifier,secret\naws,access_key,{KEY_ID},{SECRET}\n")
    assert main([*ws, "inventory", "import", str(inv)]) == 0
    out = tmp_path / "findings.json"
    code = main([*ws, "scan", "--no-progress", "-f", "json", "-o", str(out), str(page.parent)])
    assert code == 1
    assert json.loads(out.read_text())["findings"]
    capsys.readouterr()
    code = main([*ws, "exposure", "add", "--name", "scan", "--t0", "2023-11-15T00:00:00Z",
                 str(out), "--json"])  # fmt: skip
    assert code == 0
    got = json.loads(capsys.readouterr().out)
    assert got["items"] >= 1 and got["matched_items"] >= 1
    assert got["credentials"] == 1  # matched the inventory key by fingerprint
