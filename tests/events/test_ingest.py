"""The ingest pipeline through the CLI: formats, gzip, dedupe, late fields, hostile input."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.events.store import EventStore
from keyreaper.workspace import Workspace
from tests.events import gen

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _ingest(ws: Workspace, *args: str) -> int:
    return main(["-w", str(ws.root), "logs", "ingest", "--no-progress", *args])


def _count(ws: Workspace, where: str = "TRUE") -> int:
    return int(
        EventStore(ws.events_dir).query(f"SELECT count(*) AS n FROM events WHERE {where}")[0]["n"]
    )


def test_same_file_twice_adds_nothing(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    log = tmp_path / "okta.ndjson"
    log.write_bytes(gen.ndjson([gen.okta(T0 + timedelta(minutes=i)) for i in range(50)]))
    assert _ingest(ws, str(log)) == 0
    assert _count(ws) == 50
    capsys.readouterr()
    assert _ingest(ws, str(log), "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["status"] == "duplicate"
    copy = tmp_path / "copy-of-okta.log"
    copy.write_bytes(log.read_bytes())
    assert _ingest(ws, str(copy), "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["message"] == "same content already ingested"
    assert _count(ws) == 50


def test_formats_gzip_arrays_and_records(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    folder = tmp_path / "logs"
    folder.mkdir()
    page = [gen.okta(T0, token="00Tabc"), gen.okta(T0 + timedelta(seconds=1))]
    (folder / "okta-page.json").write_text(json.dumps(page, indent=2))
    records = {"Records": [gen.cloudtrail(T0, "AKIASYNTHETIC0000001") for _ in range(3)]}
    with gzip.open(folder / "ct.json.gz", "wt") as fh:
        json.dump(records, fh)
    (folder / "access.log").write_text(
        '198.51.100.4 - alice [02/Mar/2026:10:00:00 +0000] "GET /admin?token=x HTTP/1.1" '
        '200 512 "-" "curl/8"\n'
        '198.51.100.5 - - [02/Mar/2026:10:00:01 +0100] "POST /login HTTP/1.1" 401 0 "-" "-"\n'
    )
    assert _ingest(ws, str(folder), "--json") == 0
    files = {Path(r["path"]).name: r for r in json.loads(capsys.readouterr().out)}
    assert files["okta-page.json"]["source"] == "okta"
    assert files["ct.json.gz"]["source"] == "cloudtrail"
    assert files["ct.json.gz"]["events"] == 3
    assert files["access.log"]["source"] == "web_access"
    rows = EventStore(ws.events_dir).query(
        "SELECT source, credential_id, origin, target_name, outcome FROM events ORDER BY origin"
    )
    assert {r["credential_id"] for r in rows if r["source"] == "okta"} >= {"00Tabc"}
    assert any(r["origin"].endswith("ct.json.gz#2") for r in rows)
    web = [r for r in rows if r["source"] == "web_access"]
    assert [r["target_name"] for r in web] == ["/admin", "/login"]  # query string not kept
    assert [r["outcome"] for r in web] == ["success", "failure"]


def test_late_field_is_not_lost(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    """A field that first appears after 30,000 records is still there (DuckDB sampling trap)."""
    ws = sqlite_workspace
    recs = [gen.okta(T0 + timedelta(seconds=i), ip="") for i in range(30_000)]
    recs.append(gen.okta(T0 + timedelta(days=1), ip="192.0.2.99", lateField={"x": 42}))
    log = tmp_path / "late.ndjson"
    log.write_bytes(gen.ndjson(recs))
    assert _ingest(ws, str(log)) == 0
    rows = EventStore(ws.events_dir).query(
        "SELECT src_ip, json_extract(raw, '$.lateField.x')::INT AS x FROM events"
        " WHERE src_ip IS NOT NULL"
    )
    assert rows == [{"src_ip": "192.0.2.99", "x": 42}]


def test_field_map(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    fmap = tmp_path / "vault.toml"
    fmap.write_text(
        'name = "vault"\ndetect = [\'"request_id"\']\ntime = ["ts"]\n'
        '[fields]\nevent_type = "type"\ncredential_id = ["auth.accessor"]\n'
        'src_ip = "request.remote_address"\n'
        '[constants]\ncredential_kind = "api_token"\n'
        '[outcome]\npath = "error"\nfailure = ["permission denied"]\n'
    )
    log = tmp_path / "vault.log"
    log.write_bytes(
        gen.ndjson(
            [
                {
                    "ts": "2026-03-02T10:00:00Z",
                    "type": "response",
                    "request_id": "1",
                    "auth": {"accessor": "hmac-acc-1"},
                    "request": {"remote_address": "10.1.2.3"},
                },
                {
                    "ts": 1772445600,
                    "type": "request",
                    "request_id": "2",
                    "error": "permission denied",
                    "auth": {"accessor": "hmac-acc-2"},
                },
            ]
        )
    )
    assert _ingest(ws, "--map", str(fmap), str(log), "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["source"] == "vault"
    rows = EventStore(ws.events_dir).query(
        "SELECT credential_id, credential_kind, outcome, src_ip FROM events ORDER BY time"
    )
    assert rows[0] == {
        "credential_id": "hmac-acc-1",
        "credential_kind": "api_token",
        "outcome": None,
        "src_ip": "10.1.2.3",
    }
    assert rows[1]["outcome"] == "failure"


def test_unknown_format_and_bad_map(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    log = tmp_path / "x.log"
    log.write_text("hello\n")
    assert _ingest(ws, "--format", "nope", str(log)) == 2
    assert "unknown log format 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[fields]\nnot_a_column = "a"\n')
    assert _ingest(ws, "--map", str(bad), str(log)) == 2
    assert "bad.toml:fields.not_a_column" in capsys.readouterr().err


def _hostile(folder: Path) -> None:
    good = [gen.okta(T0 + timedelta(seconds=i)) for i in range(10)]
    lines = gen.ndjson(good[:5]).split(b"\n")[:-1]
    lines.insert(2, b'{"eventType": "user.session.start", "published": ')  # cut JSON
    lines.insert(3, b"not json at all")
    bad_utf8 = (
        json.dumps(gen.okta(T0, actor="caf\u00e9"), ensure_ascii=False)
        .encode()
        .replace(b"\xc3\xa9", b"\xe9")
    )
    lines.append(bad_utf8)
    (folder / "malformed.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    with open(folder / "huge-line.ndjson", "wb") as fh:
        fh.write(gen.ndjson(good[:2]))
        fh.write(b'{"eventType": "x", "pad": "' + b"A" * (100 << 20) + b'"}\n')
        fh.write(gen.ndjson(good[2:4]))
    data = gzip.compress(gen.ndjson([gen.okta(T0 + timedelta(minutes=i)) for i in range(2000)]))
    (folder / "truncated.ndjson.gz").write_bytes(data[: len(data) // 2])
    (folder / "empty.log").write_bytes(b"")


def test_hostile_input_within_1gb(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    folder = tmp_path / "hostile"
    folder.mkdir()
    _hostile(folder)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keyreaper",
            "-w",
            str(ws.root),
            "logs",
            "ingest",
            "--no-progress",
            "--json",
            "--rejects",
            str(tmp_path / "rejects.jsonl"),
            str(folder),
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert peak_mb < 1024 or before / 1024 >= 1024, f"peak RSS {peak_mb:.0f} MB"
    files = {Path(r["path"]).name: r for r in json.loads(proc.stdout)}
    assert files["malformed.ndjson"]["events"] == 6  # 5 good + the repaired invalid UTF-8 one
    assert files["huge-line.ndjson"]["events"] == 4
    assert files["truncated.ndjson.gz"]["status"] == "partial"
    assert 0 < files["truncated.ndjson.gz"]["events"] < 2000
    assert files["empty.log"]["status"] == "unrecognized"
    assert files["empty.log"]["message"] == "empty file"
    rejects = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    reasons = {r["location"].rsplit("/", 1)[-1]: r["reason"] for r in rejects}
    assert reasons["malformed.ndjson:3"].startswith("not JSON")
    assert reasons["malformed.ndjson:4"].startswith("not JSON")
    assert "invalid UTF-8" in reasons["malformed.ndjson:8"]
    assert "over the 16777216-byte limit" in reasons["huge-line.ndjson:3"]
    assert "ends early" in reasons["truncated.ndjson.gz"]
    assert "malformed.ndjson:3" in proc.stderr  # shown to the user, file and line


def test_wrong_format_says_so(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    log = tmp_path / "okta.ndjson"
    log.write_bytes(gen.ndjson([gen.okta(T0)]))
    assert _ingest(ws, "--format", "sshd", str(log), "--json") == 1
    result = json.loads(capsys.readouterr().out)[0]
    assert result["events"] == 0
    assert result["message"] == "no record matched --format sshd; it looks like okta"
    assert _ingest(ws, str(log)) == 0  # the file was not marked as ingested
    assert _count(ws) == 1


def test_no_plaintext_secret_in_the_store(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    """Canary secrets in records (both ingest paths) and query strings never reach disk."""
    ws = sqlite_workspace
    canary = "kr-canary-7d1e2f"
    okta = [gen.okta(T0, token="00Tcanary", clientSecret=canary + "a")]
    okta.append(gen.okta(T0, debugContext={"debugData": {"password": canary + "b"}}))
    (tmp_path / "fast.ndjson").write_bytes(gen.ndjson(okta))  # the DuckDB fast path
    (tmp_path / "exact.ndjson").write_bytes(gen.ndjson(okta) + b"\n")  # blank line: exact
    (tmp_path / "web.log").write_text(
        f'192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET /x?access_token={canary}c&a=1 '
        'HTTP/1.1" 200 5 "-" "ua"\n'
    )
    assert _ingest(ws, str(tmp_path / "fast.ndjson"), str(tmp_path / "web.log")) == 0
    assert _ingest(ws, str(tmp_path / "exact.ndjson")) == 0
    assert _count(ws) == 5
    assert _count(ws, "credential_id = '00Tcanary'") == 2  # columns are taken before
    for path in ws.root.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path
    raws = EventStore(ws.events_dir).query("SELECT raw FROM events")
    assert sum("[REDACTED]" in r["raw"] for r in raws) == 5


def test_store_written_before_a_column_existed_still_reads(tmp_path: Path) -> None:
    """Files from an older keyreaper lack later columns (issued_credential_id): the view still
    has every column, NULL where the files had none, and the old rows are all there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from keyreaper.events.schema import EVENT_SCHEMA

    old_schema = pa.schema([f for f in EVENT_SCHEMA if f.name != "issued_credential_id"])
    row = {f.name: None for f in old_schema}
    row.update(
        time=datetime(2025, 1, 2, tzinfo=UTC),
        source="okta",
        event_type="user.session.start",
        raw="{}",
        origin="old.ndjson:1",
        src_asn=64500,
    )
    root = tmp_path / "events"
    root.mkdir()
    pq.write_table(pa.Table.from_pylist([row, row], schema=old_schema), root / "old.parquet")
    store = EventStore(root)
    con = store.connect()
    got = con.execute(
        "SELECT count(*), count(issued_credential_id), max(src_asn), any_value(source) FROM events"
    ).fetchone()
    assert got == (2, 0, 64500, "okta")
    names = [r[0] for r in con.execute("DESCRIBE events").fetchall()]
    assert names == list(EVENT_SCHEMA.names)
