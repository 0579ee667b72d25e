"""keyreaper logs sources / formats: coverage, event types and gap days."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.events.sources import BUILTIN_SOURCES
from keyreaper.workspace import Workspace
from tests.events import gen


def test_sources_reports_range_types_and_gaps(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    root = str(ws.root)
    assert main(["-w", root, "logs", "sources", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    days = [0, 1, 2, 5, 6, 9]  # gaps: Jan 4-5 and Jan 8-9
    recs = [gen.okta(start + timedelta(days=d)) for d in days]
    recs.append(gen.okta(start, event_type="user.session.end"))
    (tmp_path / "o.ndjson").write_bytes(gen.ndjson(recs))
    assert main(["-w", root, "logs", "ingest", "--no-progress", str(tmp_path / "o.ndjson")]) == 0
    capsys.readouterr()
    assert main(["-w", root, "logs", "sources", "--json"]) == 0
    [okta] = json.loads(capsys.readouterr().out)
    assert okta["source"] == "okta" and okta["events"] == 7
    assert okta["first"].startswith("2026-01-01T12:00:00")
    assert okta["last"].startswith("2026-01-10T12:00:00")
    assert okta["event_types"] == {"user.session.start": 6, "user.session.end": 1}
    assert okta["gaps"] == ["2026-01-04..2026-01-05", "2026-01-08..2026-01-09"]
    assert okta["gap_days"] == 4
    assert main(["-w", root, "logs", "sources"]) == 0
    assert "okta" in capsys.readouterr().out  # the table (cells cut to the terminal width)


def test_formats_lists_every_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "formats", "--json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert names == list(BUILTIN_SOURCES)
