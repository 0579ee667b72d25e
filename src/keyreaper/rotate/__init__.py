"""Rotation campaigns: plan, the ordered steps, the journal, the runner, rate limits."""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def run_lock(ws: Workspace, name: str) -> Iterator[None]:
    """One runner per campaign on this machine: a second `run` stops with a clear error.
    The kernel drops the lock when the holder dies, even by SIGKILL."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    fd = os.open(ws.root / f"campaign-{safe}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KeyreaperError(
                f"campaign {name} is already running (lock {ws.root}/campaign-{safe}.lock)"
            ) from None
        yield
    finally:
        os.close(fd)


__all__ = ["Engine", "Journal", "engine", "journal", "run_lock"]
