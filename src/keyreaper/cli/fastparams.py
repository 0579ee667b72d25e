"""Option values without pydantic: typer >= 0.2x converts every option value through a
pydantic TypeAdapter, and importing pydantic and building the adapters costs about a quarter
of a second at every start, more than most commands' own work.

For the plain types keyreaper's commands declare (str, int, float, bool, Path and lists of
them) a value that is plainly valid is converted here, exactly as typer would; anything else
(an invalid number, bytes, a parser, a file type) goes to typer's own conversion, so
messages and edge cases stay typer's. With a typer that has no such layer, nothing is done.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _Unusual(Exception):
    """The value is not plainly valid: typer's own conversion decides."""


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Unusual


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    raise _Unusual


def _float(value: Any) -> float:
    if type(value) in (int, float):
        return float(value)
    if isinstance(value, str) and _FLOAT.fullmatch(value):
        return float(value)
    raise _Unusual


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Unusual


_LEAVES: dict[Any, Callable[[Any], Any]] = {str: _str, int: _int, float: _float, bool: _bool}


def leaf_converter(annotation: Any, info: Any) -> Callable[..., Any] | None:
    """A converter (value, param, ctx) for one plain annotation, None when typer must do it."""
    if getattr(info, "parser", None) is not None:
        return None
    if annotation in _LEAVES:
        leaf = _LEAVES[annotation]
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        if annotation in (int, float) and (low is not None or high is not None):

            def ranged(value: Any, param: Any, ctx: Any) -> Any:
                number = leaf(value)
                if (low is not None and number < low) or (high is not None and number > high):
                    raise _Unusual  # out of range: typer's message (or its clamping)
                return number

            return ranged
        return lambda value, param, ctx: leaf(value)
    if annotation is Path and getattr(info, "path_type", None) is None:
        from typer._param_types import coerce_cli_path

        def path(value: Any, param: Any, ctx: Any) -> Any:
            # typer would build Path(value) through pydantic, then check the flags
            # (exists, dir_okay, ...) on the Path: the checks stay typer's.
            if not isinstance(value, str | Path) or value == "":
                raise _Unusual
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)

        return path
    return None


def install() -> None:
    """Route typer's parameter conversion through the plain converters where they apply."""
    try:
        from typer import _coercion, core
    except ImportError:
        return
    original: Any = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if original is None or base is None or getattr(original, "_keyreaper", False):
        return

    class PlainParam(base):  # type: ignore[misc, valid-type]
        """Plain conversion, typer's own for anything unusual (built on first need)."""

        def __init__(self, descriptor: Any, convert: Callable[..., Any], many: bool) -> None:
            super().__init__(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
            object.__setattr__(self, "_descriptor", descriptor)
            object.__setattr__(self, "_convert", convert)
            object.__setattr__(self, "_many", many)
            object.__setattr__(self, "_typer", None)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if self._many:
                    items = value if isinstance(value, list | tuple) else [value]
                    return [self._convert(v, param, ctx) for v in items]
                return self._convert(value, param, ctx)
            except _Unusual:
                own: Any = self._typer
                if own is None:
                    own = original(self._descriptor)
                    object.__setattr__(self, "_typer", own)
                return own._coerce_value(value, param, ctx)

    def build(descriptor: Any) -> Any:
        if getattr(descriptor, "file_annotation", None) is None:
            annotation, many = descriptor.annotation, False
            if get_origin(annotation) is list and len(get_args(annotation)) == 1:
                annotation, many = get_args(annotation)[0], True
            convert = leaf_converter(annotation, descriptor.parameter_info)
            if convert is not None:
                return PlainParam(descriptor, convert, many)
        return original(descriptor)

    build._keyreaper = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", build)  # noqa: B010 (not an exported name)
