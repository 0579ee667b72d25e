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
from keyreaper.plugins import command_modules

app = typer.Typer(
    name="keyreaper",
    help="Credential-leak response: nothing is decided on belief.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
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


for _module in command_modules():
    importlib.import_module(_module.module).register(app)


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
        result = app(args=args, prog_name="keyreaper", standalone_mode=False)
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
