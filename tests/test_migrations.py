"""Migrations at open: skipped with one query when the store's schema stamp matches the code,
applied when a component's version rises, exactly once when two processes open together."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyreaper.store import Database, PostgresDatabase, SQLiteDatabase, migrate, versions
from keyreaper.store import migrations as mig
from keyreaper.workspace import Workspace

COMPONENT = "kr_test_schema_component"


def _write_component(folder: Path, n: int) -> None:
    """A component module with migrations 1..n, each creating a table t1..tn."""
    steps = ", ".join(
        f'Migration({v}, "step {v}", ("CREATE TABLE kr_mig_t{v} (id INTEGER PRIMARY KEY)",))'
        for v in range(1, n + 1)
    )
    (folder / f"{COMPONENT}.py").write_text(
        f"from keyreaper.store.migrations import Migration\nMIGRATIONS = [{steps}]\n"
    )
    sys.modules.pop(COMPONENT, None)


@pytest.fixture
def component(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "mods"
    folder.mkdir()
    _write_component(folder, 1)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(mig, "COMPONENTS", [*mig.COMPONENTS, COMPONENT])
    yield folder
    sys.modules.pop(COMPONENT, None)


def test_up_to_date_store_skips_with_the_stamp(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = workspace.db
    assert mig.stored_stamp(db) == mig.code_stamp() is not None
    loaded: list[str] = []
    monkeypatch.setattr(mig, "_load", lambda c: loaded.append(c) or [])
    assert migrate(db) == []
    assert loaded == []  # no component module was consulted


def test_version_rise_is_applied(workspace: Workspace, component: Path) -> None:
    db = workspace.db  # opened after the component joined: v1 applied at open
    assert versions(db)[COMPONENT] == 1
    assert migrate(db) == []
    _write_component(component, 3)
    assert migrate(db) == [f"{COMPONENT} v2: step 2", f"{COMPONENT} v3: step 3"]
    assert versions(db)[COMPONENT] == 3
    assert db.query("SELECT count(*) AS n FROM kr_mig_t3")[0]["n"] == 0
    assert migrate(db) == []


def test_store_without_stamp_is_checked_then_stamped(workspace: Workspace) -> None:
    db = workspace.db
    db.execute("DROP TABLE schema_stamp")  # a store last opened by code before stamps
    assert mig.stored_stamp(db) is None
    assert migrate(db) == []
    assert mig.stored_stamp(db) == mig.code_stamp()


def test_unreadable_component_source_checks_every_time(
    sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite_workspace.db
    monkeypatch.setattr(mig, "_source", lambda module: None)
    assert mig.code_stamp() is None
    calls: list[str] = []
    real = mig._load
    monkeypatch.setattr(mig, "_load", lambda c: calls.append(c) or real(c))
    assert migrate(db) == []
    assert calls == list(mig.COMPONENTS)


def _second_connection(ws: Workspace) -> Database:
    url = str(ws.config.get("store.url"))
    if url.startswith("sqlite:///"):
        return SQLiteDatabase(ws.root / url.removeprefix("sqlite:///"))
    return PostgresDatabase(url)


def test_concurrent_opens_apply_once(workspace: Workspace, component: Path) -> None:
    """Two processes opening a store whose schema must rise: each migration runs once
    (a second CREATE TABLE would fail)."""
    first = workspace.db  # v1 applied at open
    _write_component(component, 3)
    dbs = [first, _second_connection(workspace)]
    barrier = threading.Barrier(2)
    results: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results[n] = migrate(dbs[n])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dbs[1].close()
    assert errors == []
    assert sorted(results[0] + results[1]) == [f"{COMPONENT} v2: step 2", f"{COMPONENT} v3: step 3"]
    assert versions(workspace.db)[COMPONENT] == 3
