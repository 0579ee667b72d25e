"""The command's manners: exit codes, no tracebacks without -v, extras named, key rotation."""

from __future__ import annotations

import io
import json

import pytest

from keyreaper.cli import main
from keyreaper.errors import MissingExtra
from keyreaper.extras import require
from keyreaper.workspace import Workspace


def test_missing_extra_names_it() -> None:
    with pytest.raises(MissingExtra, match=r"pip install 'keyreaper\[aws\]'"):
        require("no_such_module_kr", "aws")


def test_internal_error_has_no_traceback_unless_verbose(
    sqlite_workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("secret-looking-detail-123")

    monkeypatch.setattr("keyreaper.inventory.repo.list_credentials", boom)
    ws = ["--workspace", str(sqlite_workspace.root)]
    assert main([*ws, "inventory", "list"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and "secret-looking-detail-123" not in err
    assert "internal error: RuntimeError" in err
    assert main([*ws, "-v", "inventory", "list"]) == 70
    assert "Traceback" in capsys.readouterr().err


def test_no_workspace_is_exit_2(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYREAPER_WORKSPACE", raising=False)
    monkeypatch.chdir("/")
    assert main(["inventory", "list"]) == 2
    assert "keyreaper init" in capsys.readouterr().err


def test_key_rotation_keeps_lookups(
    sqlite_workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:
    from pathlib import Path

    ws = ["--workspace", str(sqlite_workspace.root)]
    src = Path(str(tmp_path)) / "i.csv"
    src.write_text("provider,kind,identifier,secret\nokta,api_token,t1,tok-0123456789abcdefgh\n")
    assert main([*ws, "inventory", "import", str(src)]) == 0
    assert main([*ws, "key", "rotate"]) == 0
    capsys.readouterr()
    assert main([*ws, "key", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"version": 1, "current": False, "fingerprints": 1},
        {"version": 2, "current": True, "fingerprints": 0},
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("tok-0123456789abcdefgh"))
    assert main([*ws, "fingerprint", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["key_version"] == 2
    assert [c["id"] for c in got["credentials"]] == ["okta:api_token:t1"]
