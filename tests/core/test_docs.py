"""Docs stay honest: every command and option, config key and inventory column documented."""

from __future__ import annotations

from pathlib import Path

import click
import typer.main

from keyreaper.cli import app
from keyreaper.config import KEYS
from keyreaper.inventory.importer import COLUMNS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _commands(
    cmd: click.Command, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, cmd)] if path else []
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            found += _commands(sub, (*path, name))
    return found


def test_every_command_and_option_is_documented() -> None:
    text = "\n".join(p.read_text() for p in sorted((DOCS / "cli").glob("*.md")))
    root = typer.main.get_command(app)
    missing = []
    for path, cmd in _commands(root):
        if f"keyreaper {' '.join(path)}" not in text:
            missing.append(" ".join(path))
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in text:
                    missing.append(f"{' '.join(path)} {opt}")
    assert missing == []


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "config.md").read_text()
    assert [k for k in KEYS if f"`{k}`" not in text] == []


def test_every_inventory_column_is_documented() -> None:
    text = (DOCS / "inventory.md").read_text()
    assert [c for c in COLUMNS if f"`{c}`" not in text] == []


def test_design_tree_lists_every_package_folder() -> None:
    text = (DOCS / "design.md").read_text()
    src = DOCS.parent / "src" / "keyreaper"
    folders = [p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert [f for f in folders if f"{f}/" not in text] == []
