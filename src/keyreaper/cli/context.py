"""What every command shares: global options and the open workspace, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from rich.console import Console

from keyreaper.workspace import Workspace


@dataclass
class AppState:
    workspace_arg: str | None = None
    verbose: bool = False
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace.open(self.workspace_arg)
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def workspace(ctx: typer.Context) -> Workspace:
    return state(ctx).workspace()


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
