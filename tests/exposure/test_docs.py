"""The docs name every exposure and har command and option, and every --json field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer.main

from keyreaper.cli import app
from keyreaper.exposure.use import UseReport

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli"


def _options(group_name: str) -> dict[str, list[str]]:
    root = typer.main.get_command(app)
    group = root.commands[group_name]  # type: ignore[attr-defined]
    out = {}
    for name, cmd in group.commands.items():
        out[name] = [o for p in cmd.params for o in p.opts if o.startswith("--")]
    return out


def test_every_command_and_option_is_documented() -> None:
    for doc in ("exposure.md", "har.md"):
        text = (DOCS / doc).read_text()
        for command, options in _options(doc.removesuffix(".md")).items():
            assert f"## {doc.removesuffix('.md')} {command}" in text, command
            for option in options:
                assert option in text, f"{command} {option}"


def test_use_json_fields_are_documented() -> None:
    text = (DOCS / "exposure.md").read_text()
    for f in dataclasses.fields(UseReport):
        assert f"`{f.name}`" in text, f.name
