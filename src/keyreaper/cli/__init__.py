"""The keyreaper command: global options, command groups, and errors without tracebacks."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

import click
import typer
from rich.text import Text

from keyreaper.cli.context import AppState, err, state
from keyreaper.domain.redact import RedactingFilter
from keyreaper.errors import KeyreaperError
from keyreaper.plugins import BUILTIN_COMMANDS, command_modules

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


def _register(command: str | None = None) -> typer.Typer:
    """Import and register command groups: only the one being run when it is a built-in
    (importing every group costs seconds: pyarrow, duckdb), else all of them."""
    for reg in command_modules():
        if (command is None or reg.name == command) and reg.module not in _registered:
            importlib.import_module(reg.module).register(_app)
            _registered.add(reg.module)
    return _app


def _command(args: list[str]) -> str | None:
    """The command group named on the command line, if it is a built-in one."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-w", "--workspace"):
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in BUILTIN_COMMANDS else None
    return None


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the full application, for documentation and tests
        return _register()
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
    try:
        result = _register(_command(args))(args=args, prog_name="keyreaper", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        return 130
    except KeyreaperError as exc:
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
