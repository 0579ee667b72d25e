"""The state store: same behaviour on SQLite and PostgreSQL, migrations, durability settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from keyreaper.store import SQLiteDatabase, migrate, versions
from keyreaper.store.audit import entries, record
from keyreaper.store.migrations import COMPONENTS
from keyreaper.workspace import Workspace


def test_migrations_applied_once(workspace: Workspace) -> None:
    got = versions(workspace.db)
    assert set(got) == set(COMPONENTS)
    assert migrate(workspace.db) == []


def test_transaction_rolls_back(workspace: Workspace) -> None:
    db = workspace.db
    with pytest.raises(RuntimeError), db.transaction():
        db.execute(
            "INSERT INTO exposures (name, t0_source, created_at) VALUES (?, ?, ?)",
            ("x", "given", "2024-01-01"),
        )
        raise RuntimeError("boom")
    assert db.query("SELECT * FROM exposures") == []


def test_upsert_on_conflict(workspace: Workspace) -> None:
    db = workspace.db
    sql = (
        "INSERT INTO exposures (name, t0_source, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET t0_source = excluded.t0_source"
    )
    db.execute(sql, ("e", "a", "now"))
    db.execute(sql, ("e", "b", "now"))
    rows = db.query("SELECT name, t0_source FROM exposures")
    assert rows == [{"name": "e", "t0_source": "b"}]


def test_audit_is_append_only_sequence(workspace: Workspace) -> None:
    a = record(workspace.db, "test.one", subject="s1", fingerprint="v1:abc")
    b = record(workspace.db, "test.two", subject="s2")
    assert b == a + 1
    got = entries(workspace.db)
    assert [e["action"] for e in got] == ["test.two", "test.one"]


def test_sqlite_durability_asserted(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "s.db")
    assert db.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert db.query("PRAGMA synchronous")[0]["synchronous"] == 2
    db.close()
    raw = sqlite3.connect(tmp_path / "s.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent
