"""The hunt, ioc and timeline commands: documented, robust to bad input, both state stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer.main
from tests.conftest import REPO

from keyreaper.cli import app, main
from keyreaper.domain.model import Indicator
from keyreaper.hunt import store
from keyreaper.workspace import Workspace


def _commands() -> list[tuple[str, Any]]:
    # typer may ship its own click: look at the command objects by shape, not by class
    root: Any = typer.main.get_command(app)
    out: list[tuple[str, Any]] = []
    for name in ("hunt", "ioc", "timeline"):
        cmd = root.commands[name]
        out.append((name, cmd))
        out += [(name, sub) for sub in getattr(cmd, "commands", {}).values()]
    return out


@pytest.mark.parametrize(("group", "cmd"), _commands(), ids=lambda x: getattr(x, "name", x))
def test_every_command_and_option_documented(group: str, cmd: Any) -> None:
    doc = (REPO / "docs" / "cli" / f"{group}.md").read_text()
    if cmd.name != group:
        assert f"keyreaper {group} {cmd.name}" in doc
    for param in cmd.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert f"`{opt}" in doc, f"{group} {cmd.name}: {opt} undocumented"


def test_bad_inputs_are_named_and_the_rest_goes_on(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("evil[.]example\n")
    bad = tmp_path / "bad.json"
    bad.write_text('{"Event": {"Attribute": [}')
    code = main(["-w", str(sqlite_workspace.root), "ioc", "import", str(bad), str(good)])
    captured = capsys.readouterr()
    assert code == 1 and "bad.json:1" in captured.err and "Traceback" not in captured.err
    assert "good.txt: 1 indicators" in captured.out
    rule = tmp_path / "broken.yml"
    rule.write_text("title: x\ndetection: [unclosed\n")
    code = main(["-w", str(sqlite_workspace.root), "hunt", "--sigma", str(rule), "--no-packs"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "broken.yml" in captured.err + captured.out
    code = main(["-w", str(sqlite_workspace.root), "hunt", "--since", "last tuesday"])
    assert code == 2 and "not a time" in capsys.readouterr().err


def test_indicators_and_hits_on_both_stores(workspace: Workspace) -> None:
    when = datetime(2023, 11, 14, tzinfo=UTC)
    store.save_indicators(workspace.db, [Indicator("ipv4", "1.2.3.4", "a", "first", when)])
    store.save_indicators(workspace.db, [Indicator("ipv4", "1.2.3.4", "b", "")])
    (ind,) = store.load_indicators(workspace.db)
    assert (ind.source, ind.description, ind.valid_from) == ("b", "first", None)
    hit = store.Hit(
        "ioc", "ioc:ipv4", when, "f.jsonl:3", indicator_type="ipv4", indicator="1.2.3.4"
    )
    store.save_hits(workspace.db, [hit, hit])
    assert len(store.load_hits(workspace.db)) == 1
    assert store.load_indicators(workspace.db, confirmed_only=True) == [ind]
    assert json.loads(json.dumps(store.load_hits(workspace.db)[0]["detail"])) == {}
