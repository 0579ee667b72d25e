"""Import optional dependencies with a message naming the extra that provides them."""

from __future__ import annotations

import importlib
from types import ModuleType

from keyreaper.errors import MissingExtra


def require(module: str, extra: str) -> ModuleType:
    """Import `module` or raise MissingExtra naming `keyreaper[extra]`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(module, extra) from exc
