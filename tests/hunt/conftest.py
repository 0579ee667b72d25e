"""Fixtures of the hunt tests: a workspace with the replayed Nov 2023 logs in its store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hunt import events, replay

from keyreaper.events.store import EventStore
from keyreaper.workspace import Workspace, init


@pytest.fixture
def replay_ws(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(init(tmp_path / "ws"))
    store = EventStore(ws.events_dir)
    for source, recs in replay.records().items():
        events.write(store, source, recs, name=f"replay-{source}")
    try:
        yield ws
    finally:
        ws.close()
