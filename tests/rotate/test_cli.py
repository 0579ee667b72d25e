"""The campaign commands as a user meets them: tables, clear errors, no tracebacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keyreaper.cli.context import out
from keyreaper.domain import Credential
from keyreaper.workspace import Workspace
from tests.rotate.helpers import Bench


def test_show_and_status_tables(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(out, "width", 400)  # a wide terminal: cells are not cut
    bench = Bench(sqlite_workspace, tmp_path)
    bench.add(
        [Credential(id="jira:api_token:x", provider="jira", kind="api_token", identifiers=("x",))],
        {},
    )
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    capsys.readouterr()
    assert bench.cli("campaign", "show", "c") == 0
    assert "blocked" in capsys.readouterr().out
    assert bench.cli("campaign", "status", "c") == 0
    text = capsys.readouterr().out
    assert "blocked 1" in text and "no provider named 'jira'" in text


def test_errors_are_one_clear_line(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: Any
) -> None:
    bench = Bench(sqlite_workspace, tmp_path)
    assert bench.cli("campaign", "status", "nope") == 2
    assert "no campaign named 'nope'" in capsys.readouterr().err
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.cli("campaign", "run", "c", "--targets", str(tmp_path / "missing.toml")) == 2
    err = capsys.readouterr().err
    assert "missing.toml: cannot read the targets file" in err and "Traceback" not in err
    assert (
        bench.cli(
            "campaign",
            "except",
            "c",
            "ghost",
            "--reason",
            "r",
            "--approver",
            "a",
            "--expires",
            "2999-01-01",
        )
        == 2
    )
    assert "has no item 'ghost'" in capsys.readouterr().err


def test_one_runner_per_campaign(sqlite_workspace: Workspace, tmp_path: Path, capsys: Any) -> None:
    from keyreaper import rotate

    bench = Bench(sqlite_workspace, tmp_path)
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    (tmp_path / "t.toml").write_text("")
    with rotate.run_lock(sqlite_workspace, "c"):
        assert bench.cli("campaign", "run", "c", "--targets", str(tmp_path / "t.toml")) == 2
    assert "campaign c is already running" in capsys.readouterr().err
    assert (
        bench.cli("campaign", "run", "c", "--targets", str(tmp_path / "t.toml"), "--no-progress")
        == 0
    )
