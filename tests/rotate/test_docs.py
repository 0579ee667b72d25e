"""docs/cli/campaign.md names every campaign command and option; docs/providers.md every
built-in provider's options."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer.main

from keyreaper.cli import app
from keyreaper.rotate.targets import load_class, provider_classes, sink_classes

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_campaign_command_and_option_is_documented() -> None:
    text = (DOCS / "cli" / "campaign.md").read_text()
    group = typer.main.get_command(app).commands["campaign"]  # type: ignore[attr-defined]
    assert hasattr(group, "commands")
    for name, cmd in group.commands.items():
        assert f"## campaign {name}" in text, name
        for param in cmd.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in text, f"campaign {name} {opt}"


def test_every_builtin_provider_and_sink_option_is_documented() -> None:
    text = (DOCS / "providers.md").read_text()
    for table in (provider_classes(), sink_classes()):
        for name, spec in table.items():
            if name in ("aws", "okta", "aws_secrets"):
                continue  # documented with those providers
            assert f"`{name}`" in text or f"## {name}" in text, name
            for param in inspect.signature(load_class(spec).__init__).parameters:
                if param != "self":
                    assert f"`{param}" in text, f"{name}.{param}"
