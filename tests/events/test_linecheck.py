"""A check begun before the fast path asks for it (`logs ingest` starts one at once) is
adopted only while it still describes the file, and stopped when nothing adopts it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from keyreaper.events import fastpath, linecheck
from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.sources import all_sources
from tests.events import gen

T0 = datetime(2026, 2, 1, tzinfo=UTC)
MAX = 16 << 20


def _file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "o.ndjson"
    path.write_bytes(gen.ndjson([gen.okta(T0 + timedelta(seconds=i)) for i in range(n)]))
    return path


def _run(path: Path) -> tuple[pa.Table, fastpath.Check]:
    source = all_sources()["okta"]
    assert isinstance(source, JsonSource)
    plan = source.fast_plan(path, str(path), MAX)
    assert plan is not None
    batches, check = fastpath.run(plan, path, str(path), MAX)
    return pa.Table.from_batches(list(batches)), check


def test_early_check_is_adopted(tmp_path: Path) -> None:
    path = _file(tmp_path, 300)
    linecheck.start(path, MAX)
    early = linecheck._started[linecheck._key(path, MAX)].check
    table, check = _run(path)
    assert check is early  # the work begun early, not a second read
    assert not linecheck._started
    assert table.num_rows == check.lines == 300
    assert check.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_early_check_of_a_changed_file_is_not_used(tmp_path: Path) -> None:
    path = _file(tmp_path, 300)
    linecheck.start(path, MAX)
    early = linecheck._started[linecheck._key(path, MAX)].check
    with open(path, "ab") as fh:  # the file grows after the check began
        fh.write(gen.ndjson([gen.okta(T0 + timedelta(days=1))]))
    table, check = _run(path)
    assert check is not early and early.problem == "not needed"
    assert table.num_rows == check.lines == 301
    assert check.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unadopted_check_is_stopped_and_non_json_is_not_started(tmp_path: Path) -> None:
    path = _file(tmp_path, 10)
    linecheck.start(path, MAX)
    started = linecheck._started[linecheck._key(path, MAX)]
    linecheck.drop(path, MAX)
    assert not linecheck._started and not started.thread.is_alive()
    text = tmp_path / "auth.log"
    text.write_text("Jan  1 00:00:00 host sshd[1]: Accepted publickey for a from 192.0.2.1\n")
    linecheck.start(text, MAX)
    trail = tmp_path / "ct.json"
    trail.write_text('{ "Records": [] }')
    linecheck.start(trail, MAX)
    assert not linecheck._started


def _checked(path: Path, max_line: int) -> linecheck.Check:
    check = linecheck.Check(flag_secrets=linecheck._secret_keys() is not None)
    linecheck._check(path, max_line, check)
    return check


def test_line_faults_found_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With small read chunks: a blank line deep in the file, a line over the limit that
    spans chunks, and a clean file whose line count and hash are exact."""
    monkeypatch.setattr(linecheck, "CHUNK", 1 << 12)
    lines = gen.ndjson([gen.okta(T0 + timedelta(seconds=i)) for i in range(200)]).splitlines(True)
    clean = tmp_path / "clean.ndjson"
    clean.write_bytes(b"".join(lines))
    check = _checked(clean, 1 << 13)
    assert (check.problem, check.lines) == ("", 200)
    assert check.sha256 == hashlib.sha256(clean.read_bytes()).hexdigest()
    blank = tmp_path / "blank.ndjson"
    blank.write_bytes(b"".join(lines[:150]) + b"\n" + b"".join(lines[150:]))
    assert "does not start" in _checked(blank, 1 << 13).problem
    indented = tmp_path / "indented.ndjson"
    indented.write_bytes(b"".join(lines[:120]) + b" " + b"".join(lines[120:]))
    assert "does not start" in _checked(indented, 1 << 13).problem
    long = tmp_path / "long.ndjson"
    huge = b'{"eventType":"x","pad":"' + b"a" * (3 << 12) + b'"}\n'
    long.write_bytes(b"".join(lines[:100]) + huge + b"".join(lines[100:]))
    assert _checked(long, 1 << 13).problem == "over-long line"
    assert _checked(long, 1 << 10).problem == "over-long line"  # limit below the chunk
    assert _checked(long, 1 << 15).problem == ""
