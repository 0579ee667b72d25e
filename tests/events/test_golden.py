"""Fixtures without an Elastic expected file: our parser's output, checked by hand once
against the raw records, is kept under tests/events/golden/ and must not drift.

Regenerate after a deliberate change with KEYREAPER_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_DATA, shared_data
from tests.events.conftest import parse_file

GOLDEN = Path(__file__).parent / "golden"
FIELDS = (
    "time",
    "source",
    "event_type",
    "category",
    "outcome",
    "actor_id",
    "actor_name",
    "actor_type",
    "credential_id",
    "credential_kind",
    "src_ip",
    "src_asn",
    "user_agent",
    "target_id",
    "target_type",
    "target_name",
    "session_id",
    "issued_credential_id",
    "origin",
)


def _logs() -> list[Any]:
    if not SHARED_DATA.is_dir():
        return [pytest.param(None, id="no-shared-data")]
    logs = sorted((SHARED_DATA / "logs").rglob("*.log"))
    return [
        pytest.param(p, id=f"{p.parent.name}/{p.name}")
        for p in logs
        if not p.with_name(p.name + "-expected.json").exists()
    ]


def _view(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in FIELDS if row.get(k) is not None}
    out["time"] = row["time"].isoformat()
    return out


@pytest.mark.parametrize("path", _logs())
def test_golden(path: Path | None) -> None:
    shared_data()
    assert path is not None
    _, rows, rejects = parse_file(path)
    assert rejects == []
    got = [_view(r) for r in rows]
    golden = GOLDEN / path.parent.name / (path.name + ".json")
    if os.environ.get("KEYREAPER_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert golden.exists(), f"no golden file {golden} (run with KEYREAPER_UPDATE_GOLDEN=1)"
    assert got == json.loads(golden.read_text())
