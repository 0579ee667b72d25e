"""What every command shares: global options and the open workspace, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from keyreaper.workspace import Workspace


@dataclass
class AppState:
    workspace_arg: str | None = None
    verbose: bool = False
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        if self._workspace is None:
            from keyreaper.workspace import Workspace

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


class _LazyConsole:
    """A rich Console made on first use: importing rich costs a tenth of a second at every
    start, and machine output (--json, --csv) never needs it. Attribute reads and writes go
    to the console, so it stands in for one everywhere (tests set `out.width`)."""

    def __init__(self, **options: Any) -> None:
        object.__setattr__(self, "_options", options)
        object.__setattr__(self, "_console", None)
        object.__setattr__(self, "_saved", {})

    def _get(self) -> Console:
        console: Console | None = object.__getattribute__(self, "_console")
        if console is None:
            from rich.console import Console

            console = Console(**object.__getattribute__(self, "_options"))
            object.__setattr__(self, "_console", console)
        return console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        console = self._get()
        saved = object.__getattribute__(self, "_saved")
        saved.setdefault(name, getattr(console, name))
        setattr(console, name, value)

    def __delattr__(self, name: str) -> None:
        # The proxy holds no attributes of its own: "deleting" one (monkeypatch's undo)
        # puts back the console's value from before the first assignment.
        saved = object.__getattribute__(self, "_saved")
        if name not in saved:
            raise AttributeError(name)
        setattr(self._get(), name, saved.pop(name))


out = cast("Console", _LazyConsole(soft_wrap=True))
err = cast("Console", _LazyConsole(stderr=True, soft_wrap=True))
