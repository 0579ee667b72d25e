"""Shared fixtures: third-party data location, workspaces, and throwaway real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyreaper.workspace import Workspace, init
from tests.servers.postgres import PostgresServer, start_postgres

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("KEYREAPER_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_data() -> Path:
    """../shared/data: third-party fixtures that are never copied into the repository."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared third-party data is missing at {SHARED_DATA}")
        pytest.skip(f"third-party data not present at {SHARED_DATA} (set KEYREAPER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrizes a test over both state stores; PostgreSQL gets a fresh database."""
    if request.param == "sqlite":
        return "sqlite:///state.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.dsn(server.create_database())


@pytest.fixture
def workspace(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    root = init(tmp_path / "ws", store_url)
    ws = Workspace(root)
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    root = init(tmp_path / "ws")
    ws = Workspace(root)
    try:
        yield ws
    finally:
        ws.close()
