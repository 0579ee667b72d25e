"""keyreaper init: create a workspace."""

from __future__ import annotations

from pathlib import Path

import typer

from keyreaper.cli.context import out
from keyreaper.workspace import init


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init_cmd(
        directory: Path = typer.Argument(Path("."), help="Folder to create .keyreaper/ in."),
        store_url: str | None = typer.Option(
            None, "--store-url", help="State store URL (default sqlite:///state.db)."
        ),
    ) -> None:
        """Create a workspace: config, fingerprint key (0600) and the state store."""
        root = init(directory, store_url)
        out.print(f"created workspace {root}")
        out.print(f"  config           {root / 'keyreaper.toml'}")
        out.print(f"  fingerprint key  {root / 'keys' / 'fingerprint.key'} (0600, version 1)")
