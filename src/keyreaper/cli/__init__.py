"""The keyreaper command: global options, command groups, and errors without tracebacks."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

import typer

from keyreaper.cli import fastparams
from keyreaper.cli.context import AppState, err, state
from keyreaper.domain.redact import RedactingFilter
from keyreaper.errors import KeyreaperError
from keyreaper.plugins import BUILTIN_COMMANDS, command_modules

# typer >= 0.16 ships its own copy of click and raises its exceptions, older typer raises
# click's: catch whichever classes this typer uses (BadParameter derives from ClickException).
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
fastparams.install()

_app = typer.Typer(
    name="keyreaper",
    help="Credential-leak response: nothing is decided on belief.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@_app.callback()
def _root(
    ctx: typer.Context,
    workspace: str | None = typer.Option(
        None,
        "--workspace",
        "-w",
        help="Workspace folder (else KEYREAPER_WORKSPACE, else search up).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and debug logs."),
) -> None:
    st = state(ctx)
    st.workspace_arg = workspace
    st.verbose = verbose
    ctx.call_on_close(st.close)


_registered: set[str] = set()


def _register(names: Sequence[str] | None = None) -> None:
    """Import and register command modules once each: all of them, or only the named
    built-in groups. A run registers just its own group, so `keyreaper hunt` does not pay for
    importing every other command's dependencies (about a second of start-up)."""
    if names is None:
        modules = [reg.module for reg in command_modules()]
    else:  # built-ins only: no entry-point scan of site-packages
        modules = [BUILTIN_COMMANDS[n] for n in names]
    for module in modules:
        if module not in _registered:
            _registered.add(module)
            importlib.import_module(module).register(_app)


def _command_of(args: Sequence[str]) -> str | None:
    """The command word of a command line (global options skipped), if any."""
    rest = iter(args)
    for a in rest:
        if a in ("-w", "--workspace"):
            next(rest, None)
        elif not a.startswith("-"):
            return a
    return None


def __getattr__(name: str) -> object:
    # `from keyreaper.cli import app` (docs tests walk every command) gets all of them.
    if name == "app":
        _register()
        return _app
    raise AttributeError(name)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("keyreaper")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code (0 ok, 1 some items failed, 2 usage/input, 70 bug)."""
    os.umask(0o077)
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    _setup_logging(verbose)
    command = _command_of(args)
    _register([command] if command in BUILTIN_COMMANDS else None)
    try:
        result = _app(args=args, prog_name="keyreaper", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except _CLICK_ERROR as exc:
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        err.print("aborted")
        return 130
    except KeyreaperError as exc:
        from rich.text import Text

        err.print(Text("error: ", style="bold red") + Text(str(exc)), highlight=False)
        if verbose:
            traceback.print_exc()
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # the last line of defence: no traceback unless -v
        if verbose:
            traceback.print_exc()
        err.print(
            f"[bold red]internal error:[/bold red] {type(exc).__name__} "
            "(run with -v for the traceback, and please report it)"
        )
        return 70
    return int(result) if isinstance(result, int) else 0


__all__ = ["AppState", "app", "main"]
