"""keyreaper plugins: what is registered, built-in or from entry points."""

from __future__ import annotations

import typer

from keyreaper.cli.output import choose, emit
from keyreaper.plugins import GROUPS, command_modules, registered


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins_cmd(as_json: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
        """List registered extensions: command groups, log sources, providers, sinks, rules."""
        regs = command_modules() + [r for g in GROUPS[1:] for r in registered(g)]
        rows = [
            {"group": r.group, "name": r.name, "module": r.module, "builtin": r.builtin}
            for r in regs
        ]
        emit(rows, ["group", "name", "module", "builtin"], choose(as_json))
