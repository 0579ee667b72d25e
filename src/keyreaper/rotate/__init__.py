"""Rotation campaigns: plan, the ordered steps, the journal, the runner, rate limits."""

from __future__ import annotations

import threading

from keyreaper.errors import KeyreaperError
from keyreaper.rotate.engine import Engine
from keyreaper.rotate.journal import CrashPoints, Journal
from keyreaper.rotate.sealed import KEY_FILE, Sealed, SealKeys
from keyreaper.rotate.targets import Targets
from keyreaper.workspace import Workspace


def journal(ws: Workspace, name: str) -> Journal:
    if not ws.db.query("SELECT name FROM campaigns WHERE name = ?", (name,)):
        raise KeyreaperError(f"no campaign named {name!r} (run keyreaper campaign plan {name} ...)")
    return Journal(ws.db, name, threading.RLock())


def engine(ws: Workspace, name: str, targets: Targets, crash: CrashPoints | None = None) -> Engine:
    j = journal(ws, name)
    sealed = Sealed(ws.db, SealKeys(ws.root / "keys" / KEY_FILE))
    return Engine(j, targets, sealed, ws.fingerprinter, crash)


__all__ = ["Engine", "Journal", "engine", "journal"]
