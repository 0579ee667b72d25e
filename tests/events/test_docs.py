"""Docs stay honest: every logs/usage command and option, and every log source, is
documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from keyreaper.cli import app
from keyreaper.events.sources import BUILTIN_SOURCES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _commands() -> list[tuple[str, Any]]:
    root: Any = typer.main.get_command(app)  # typer ships its own click
    out: list[tuple[str, Any]] = []
    logs = root.commands["logs"]
    out += [(f"logs {name}", cmd) for name, cmd in logs.commands.items()]
    out.append(("usage", root.commands["usage"]))
    return out


@pytest.mark.parametrize(("name", "command"), _commands(), ids=lambda x: str(x))
def test_command_and_options_documented(name: str, command: Any) -> None:
    page = DOCS / "cli" / f"{name.split()[0]}.md"
    text = page.read_text()
    assert f"keyreaper {name}" in text, f"{name} missing from {page}"
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--"):
                assert f"`{opt}" in text, f"{name} {opt} missing from {page}"


def test_every_source_documented() -> None:
    text = (DOCS / "log-sources.md").read_text()
    for name in BUILTIN_SOURCES:
        assert f"`{name}`" in text, name
