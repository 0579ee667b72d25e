"""Errors that reach the user as one clear line; tracebacks only with -v."""

from __future__ import annotations

from dataclasses import dataclass


class KeyreaperError(Exception):
    """An error the user can act on; printed without a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class Location:
    """Where in the input something went wrong (file, line, column or field)."""

    path: str
    line: int | None = None
    column: str | int | None = None

    def __str__(self) -> str:
        out = self.path
        if self.line is not None:
            out += f":{self.line}"
        if self.column is not None:
            out += f":{self.column}"
        return out


class InputError(KeyreaperError):
    """Bad input at a known place."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.reason = message


class WorkspaceError(KeyreaperError):
    """The workspace is missing, unsafe or unreadable."""


class MissingExtra(KeyreaperError):
    """An optional dependency is not installed; names the extra that brings it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this needs the optional module '{module}': install it with "
            f"pip install 'keyreaper[{extra}]'"
        )
        self.module = module
        self.extra = extra
