"""The append-only audit journal: every action, with actor and fingerprint, never a secret."""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from datetime import UTC, datetime

from keyreaper.store.db import Database, Row


def current_actor() -> str:
    """Who is acting: KEYREAPER_ACTOR, else the OS user."""
    try:
        return os.environ.get("KEYREAPER_ACTOR") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return f"uid:{os.getuid()}"


def record(
    db: Database,
    action: str,
    *,
    subject: str = "",
    fingerprint: str = "",
    outcome: str = "",
    detail: str = "",
    actor: str | None = None,
) -> int:
    """Append one line and return its sequence number. Raises if it cannot be written,
    so callers put the action after this inside the same transaction."""
    with db.transaction():
        seq = int(db.query("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM audit_log")[0]["n"])
        db.execute(
            "INSERT INTO audit_log (seq, at, actor, action, subject, fingerprint, outcome, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                datetime.now(UTC).isoformat(),
                actor or current_actor(),
                action,
                subject,
                fingerprint,
                outcome,
                detail,
            ),
        )
    return seq


# One journal line as stored: at, actor, action, subject, fingerprint, outcome, detail.
Line = tuple[str, str, str, str, str, str, str]


def append(db: Database, lines: Sequence[Line]) -> None:
    """Append many lines with one read of the last seq and one multi-row INSERT (the
    campaign runner's group commit writes a batch this way). Same guarantee as `record`:
    raises if they cannot be written."""
    if not lines:
        return
    with db.transaction():
        seq = int(db.query("SELECT COALESCE(MAX(seq), 0) AS n FROM audit_log")[0]["n"])
        for start in range(0, len(lines), 100):  # far below any bound-parameter limit
            chunk = lines[start : start + 100]
            db.execute(
                "INSERT INTO audit_log (seq, at, actor, action, subject, fingerprint, outcome,"
                " detail) VALUES " + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?)" for _ in chunk),
                [v for i, line in enumerate(chunk, seq + start + 1) for v in (i, *line)],
            )


def entries(db: Database, limit: int = 1000) -> list[Row]:
    return db.query("SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?", (limit,))
