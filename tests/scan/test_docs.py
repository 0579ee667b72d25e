"""Docs stay honest: every rule id is in docs/rules.md; every scan option and JSON field is
in docs/cli/scan.md; the pre-commit hook names the command."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from keyreaper.cli import app
from keyreaper.scan import rules as rules_mod
from keyreaper.scan.findings import FIELDS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_rule_documented() -> None:
    text = (DOCS / "rules.md").read_text()
    missing = [r.id for r in rules_mod.load() if f"`{r.id}`" not in text]
    assert missing == []


def test_every_option_and_field_documented() -> None:
    text = (DOCS / "cli" / "scan.md").read_text()
    command = typer.main.get_command(app)
    scan = command.commands["scan"]  # type: ignore[attr-defined]
    for param in scan.params:
        if type(param).__name__.endswith("Option") and not getattr(param, "hidden", False):
            assert any(o in text for o in param.opts), param.opts
    for name in FIELDS:
        assert re.search(rf"`{name}`", text), name


def test_pre_commit_hook() -> None:
    hook = (DOCS.parent / ".pre-commit-hooks.yaml").read_text()
    assert "entry: keyreaper scan" in hook
