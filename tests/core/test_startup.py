"""Start-up cost: a command imports only what it runs. `keyreaper hunt` on an indexed store
needs neither DuckDB, pyarrow, numpy, pydantic, rich nor the rotation engine; usage errors
are exit 2 with typer's message, never an internal error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.events.store import EventStore
from keyreaper.workspace import Workspace
from tests.hunt import events

HEAVY = ("duckdb", "pyarrow", "numpy", "pydantic", "rich", "cryptography", "keyreaper.rotate",
         "keyreaper.events.store", "importlib.metadata")  # fmt: skip
PROBE = """
import json, sys
from keyreaper.cli import main
code = main(sys.argv[2:])
heavy = sorted(m for m in json.loads(sys.argv[1]) if m in sys.modules)
sys.stderr.write("\\nIMPORTED " + json.dumps([code, heavy]) + "\\n")
"""


def _imported(*args: str) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("IMPORTED "))
    code, heavy = json.loads(line.removeprefix("IMPORTED "))
    return code, heavy, proc.stdout


def test_help_imports_nothing_heavy() -> None:
    code, heavy, out = _imported("hunt", "--help")
    assert code == 0 and "--no-packs" in out
    assert heavy == []


def test_store_hunt_reads_the_index_only(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recs = [
        {"published": f"2024-05-01T12:{n:02d}:00Z", "eventType": "user.session.start",
         "actor": {"id": f"00u{n}", "alternateId": f"user{n}@corp.example"},
         "client": {"ipAddress": f"198.51.100.{n}"}, "target": []}
        for n in range(1, 30)
    ]  # fmt: skip
    events.write(EventStore(sqlite_workspace.events_dir), "okta", recs, name="okta")
    iocs = tmp_path / "iocs.txt"
    iocs.write_text("198.51.100.7\n198.51.100.9\n")
    ws = ["-w", str(sqlite_workspace.root)]
    assert main([*ws, "ioc", "import", str(iocs)]) == 0
    assert main([*ws, "hunt", "--no-packs", "--json"]) == 0  # builds the token index
    capsys.readouterr()
    code, heavy, out = _imported(*ws, "hunt", "--no-packs", "--json")
    assert code == 0
    hits = json.loads(out)["hits"]
    assert sorted(h["src_ip"] for h in hits) == ["198.51.100.7", "198.51.100.9"]
    assert {h["matched_field"] for h in hits} == {"src_ip"}
    assert heavy == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hunt", "--bogus"], "No such option: --bogus"),
        (["hunt", "sweep"], "Missing argument 'PRINCIPAL'"),
        (["hunt", "sweep", "x", "--since"], "requires an argument"),
    ],
)
def test_usage_errors_are_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message.lower() in err.lower() and "internal error" not in err
