"""The DuckDB fast path gives exactly what the per-record path gives, and steps aside for
files it cannot vouch for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from keyreaper.events import fastpath, linecheck
from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.reader import open_log
from keyreaper.events.schema import EVENT_SCHEMA
from keyreaper.events.sources import all_sources
from tests.conftest import SHARED_DATA
from tests.events import gen

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def _exact(source: JsonSource, path: Path) -> list[dict[str, Any]]:
    opened = open_log(path)
    try:
        return pa.Table.from_batches(list(source.parse(opened.stream, str(path)))).to_pylist()
    finally:
        opened.close()


def _fast(source: JsonSource, path: Path) -> tuple[list[dict[str, Any]], str]:
    plan = source.fast_plan(path, str(path), 16 << 20)
    assert plan is not None
    batches, check = fastpath.run(plan, path, str(path), 16 << 20)
    table = pa.Table.from_batches(list(batches))
    assert table.schema == EVENT_SCHEMA
    return table.to_pylist(), check.sha256


def _okta_files(tmp_path: Path) -> list[Path]:
    made = tmp_path / "synthetic.ndjson"
    made.write_bytes(
        gen.ndjson(
            [
                gen.okta(
                    T0 + timedelta(seconds=i),
                    token="00Tx" if i % 3 else None,
                    result=("SUCCESS", "DENY", "CHALLENGE")[i % 3],
                    asn=None if i % 2 else 7,
                )
                for i in range(500)
            ]
        )
    )
    shared = sorted((SHARED_DATA / "logs" / "okta").glob("*.log")) if SHARED_DATA.is_dir() else []
    return [made, *shared]


def test_fast_equals_exact_for_okta(tmp_path: Path) -> None:
    source = all_sources()["okta"]
    assert isinstance(source, JsonSource)
    for path in _okta_files(tmp_path):
        fast, digest = _fast(source, path)
        assert fast == _exact(source, path), path
        assert len(digest) == 64


def test_fast_equals_exact_for_cloudtrail_lines(tmp_path: Path) -> None:
    source = all_sources()["cloudtrail"]
    assert isinstance(source, JsonSource)
    made = tmp_path / "ct.ndjson"
    made.write_bytes(
        gen.ndjson(
            [
                gen.cloudtrail(T0, "AKIAFAST000000000001", ip="ec2.amazonaws.com"),
                gen.cloudtrail(T0, "AKIAFAST000000000002", error="AccessDenied"),
                gen.cloudtrail(
                    T0,
                    "ASIAFAST000000000003",
                    ip="2001:db8::5, 10.0.0.1",
                    name="AssumeRole",
                    issued="ASIAFAST000000000004",
                ),
            ]
        )
    )
    shared = (
        sorted((SHARED_DATA / "logs" / "aws_cloudtrail").glob("*.log"))
        if SHARED_DATA.is_dir()
        else []
    )
    stepped_aside = []
    for path in [made, *shared]:
        try:
            fast, _ = _fast(source, path)
        except fastpath.FastPathFailed:
            stepped_aside.append(path.name)
            continue
        assert fast == _exact(source, path), path
    # that fixture ends with a blank line, so record numbers would not be line numbers
    assert set(stepped_aside) <= {"test-get-bucket-policy-json.log"}


def test_fast_path_for_field_maps(tmp_path: Path) -> None:
    source = JsonSource(
        name="custom",
        fields={"event_type": ("kind",), "actor_name": ("who.name", "user"), "src_asn": ("asn",)},
        time=("at",),
        constants={"category": "custom"},
        outcome_path=("ok",),
        outcome_values={"true": "success", "false": "failure"},
    )
    path = tmp_path / "c.ndjson"
    path.write_bytes(
        gen.ndjson(
            [
                {
                    "at": "2026-01-01T00:00:00Z",
                    "kind": "a",
                    "who": {"name": "x"},
                    "ok": True,
                    "asn": 64500,
                },
                {"at": "2026-01-01T00:00:01+02:00", "kind": "b", "user": "y", "ok": False},
                {"at": "2026-01-01 00:00:02", "kind": 3, "who": {}, "user": ""},
            ]
        )
    )
    fast, _ = _fast(source, path)
    assert fast == _exact(source, path)
    assert [r["outcome"] for r in fast] == ["success", "failure", None]


def test_utf8_across_chunks(tmp_path: Path) -> None:
    """A multi-byte character cut by a read-chunk boundary is not invalid UTF-8."""
    source = all_sources()["okta"]
    assert isinstance(source, JsonSource)
    rec = gen.okta(T0, actor="\u00e9t\u00e9-\u4e2d\u6587")
    line = json.dumps(rec, ensure_ascii=False).encode() + b"\n"
    path = tmp_path / "utf8.ndjson"
    path.write_bytes(line * ((fastpath.CHUNK * 2) // len(line) + 3))
    rows, _ = _fast(source, path)
    assert rows[0]["actor_id"] == "\u00e9t\u00e9-\u4e2d\u6587"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'{"eventType":"a","published":"2026-01-01T00:00:00Z"}\n\n', "does not start"),
        (b'  {"eventType":"a","published":"2026-01-01T00:00:00Z"}\n', "does not start"),
        (b'{"eventType":"a","published":"2026-01-01T00:00:00Z"}\n{"eventType":\n', "Malformed"),
        (b'{"eventType":"a","published":"2026-01-01T00:00:00Z","x":"\xff"}\n', "invalid UTF-8"),
        (b'{"eventType":"a","published":"soon"}\n', "readable time"),
    ],
)
def test_fast_path_steps_aside(tmp_path: Path, content: bytes, why: str) -> None:
    source = all_sources()["okta"]
    assert isinstance(source, JsonSource)
    path = tmp_path / "bad.ndjson"
    path.write_bytes(content)
    with pytest.raises(fastpath.FastPathFailed, match=why):
        _fast(source, path)


def test_order_and_line_numbers_on_a_larger_file(tmp_path: Path) -> None:
    """DuckDB reads in parallel; records must still come in file order with their lines."""
    source = all_sources()["okta"]
    assert isinstance(source, JsonSource)
    path = tmp_path / "big.ndjson"
    recs = [gen.okta(T0 + timedelta(seconds=i), actor=f"00u{i:08d}") for i in range(40_000)]
    path.write_bytes(gen.ndjson(recs))
    rows, _ = _fast(source, path)
    assert len(rows) == 40_000
    for i in (0, 1, 9_999, 20_000, 39_999):
        assert rows[i]["origin"] == f"{path}:{i + 1}"
        assert rows[i]["actor_id"] == f"00u{i:08d}"
    assert [r["actor_id"] for r in rows] == [f"00u{i:08d}" for i in range(40_000)]


@pytest.mark.parametrize("hyperscan", [True, False])
def test_secret_keys_redacted_like_the_exact_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hyperscan: bool
) -> None:
    """Secret-named values are redacted on both redaction routes (Hyperscan flags lines in the
    checking thread; without it DuckDB tests every record), also across read chunks."""
    if not hyperscan:
        monkeypatch.setattr(fastpath, "_secret_keys", lambda: None)
    elif fastpath._secret_keys() is None:
        pytest.skip("hyperscan not installed")
    chunk = 1 << 16
    monkeypatch.setattr(linecheck, "CHUNK", chunk)  # the checking pass reads in chunks
    source = all_sources()["okta"]
    assert isinstance(source, JsonSource)
    canary = "kr-canary-5e9a"

    def line(**extra: Any) -> bytes:
        return json.dumps(gen.okta(T0, **extra), separators=(",", ":")).encode() + b"\n"

    plain = line()
    lines = [plain] * (3 * chunk // len(plain))
    secret_at = [3, len(lines) // 2, len(lines) - 1]
    for n in secret_at:
        lines[n] = line(debugContext={"debugData": {"clientSECRET": f"{canary}{n}"}})
    # one whose key name is cut by the first chunk boundary
    straddle = chunk // len(plain) - 2
    lines[straddle] = line(debugContext={"debugData": {"x_api_key": f"{canary}s"}})
    key_at = sum(len(x) for x in lines[:straddle]) + lines[straddle].index(b"api_key")
    lines[0] = b'{"pad":"' + b"p" * (chunk - key_at - 3 - 9) + b'",' + plain[1:]
    key_at = sum(len(x) for x in lines[:straddle]) + lines[straddle].index(b"api_key")
    assert key_at < chunk < key_at + len("api_key")
    path = tmp_path / "secrets.ndjson"
    path.write_bytes(b"".join(lines))
    rows, _ = _fast(source, path)
    assert not any(canary in r["raw"] for r in rows)
    flagged = [i for i, r in enumerate(rows) if "[REDACTED]" in r["raw"]]
    assert flagged == sorted([*secret_at, straddle])
    assert rows == _exact(source, path)
