"""Hostile HARs: clear errors naming file and place, no traceback, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.workspace import Workspace
from tests.exposure.helpers import har_entry, write_har

SECRET = "hostile_" + "K3y" * 10


def _good(tmp_path: Path) -> Path:
    return write_har(tmp_path / "good.har", [har_entry(headers=[("X-API-Key", SECRET)])])


def _truncated(tmp_path: Path) -> Path:
    text = _good(tmp_path).read_text()
    bad = tmp_path / "truncated.har"
    bad.write_text(text[: text.index('"response"') + 20])
    return bad


def _cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    deep = tmp_path / "deep.har"
    deep.write_bytes(b'{"log": {"entries": [{"_x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}]}}")
    dup = tmp_path / "dup.har"
    dup.write_text('{"log": {"entries": [{"request": {"url": "a"}, "request": {"url": "b"}}]}}')
    nan = tmp_path / "nan.har"
    nan.write_text('{"log": {"entries": [{"time": NaN}]}}')
    huge = tmp_path / "huge.har"
    huge.write_text('{"log": {"entries": [{"time": 1e999999}]}}')
    utf = tmp_path / "utf.har"
    utf.write_bytes(b'{"log": {"entries": [{"comment": "\xff\xfe"}]}}')
    notjson = tmp_path / "notjson.har"
    notjson.write_text("HTTP/1.1 200 OK\r\nthis is not a HAR " + SECRET)
    twolog = tmp_path / "twolog.har"
    twolog.write_text('{"log": {"entries": []}, "log": {"entries": []}}')
    nolog = tmp_path / "nolog.har"
    nolog.write_text('{"entries": []}')
    return {
        "not json": (notjson, "not a valid HAR"),
        "truncated": (_truncated(tmp_path), "entries[0]"),
        "deep": (deep, "nested deeper than"),
        "duplicate keys": (dup, "duplicate key 'request'"),
        "nan": (nan, "not a valid HAR"),
        "huge number": (huge, "overflow"),
        "invalid utf-8": (utf, "not a valid HAR"),
        "no log": (nolog, "no 'log' object"),
        "two logs": (twolog, "duplicate key 'log'"),
    }


def test_sanitize_refuses_each_hostile_file_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for label, (path, expected) in _cases(tmp_path).items():
        out = tmp_path / f"out-{path.stem}" / "clean.har"
        out.parent.mkdir()
        out.write_text("previous content")
        code = main(["har", "sanitize", str(path), str(out)])
        captured = capsys.readouterr()
        assert code == 2, label
        assert str(path) in captured.err and expected in captured.err, (label, captured.err)
        assert "Traceback" not in captured.err and SECRET not in captured.err
        assert out.read_text() == "previous content", label  # never half-written
        assert sorted(p.name for p in out.parent.iterdir()) == [out.name], (
            label
        )  # no temp file left


def test_exposure_add_keeps_good_files_and_reports_bad_ones(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    bad = [p for p, _ in _cases(tmp_path).values()]
    code = main(
        [
            "-w",
            str(ws.root),
            "exposure",
            "add",
            "--name",
            "mixed",
            str(_good(tmp_path)),
            *map(str, bad),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    result = json.loads(captured.out)
    statuses = {Path(f["path"]).name: f["status"] for f in result["file_results"]}
    assert statuses.pop("good.har") == "ok" and set(statuses.values()) == {"rejected"}
    assert result["items"] == 1
    assert "Traceback" not in captured.err
    code = main(["-w", str(ws.root), "exposure", "add", "--name", "only-bad", *map(str, bad)])
    assert code == 2 and "left unchanged" in capsys.readouterr().err
    assert ws.db.query("SELECT name FROM exposures ORDER BY name") == [{"name": "mixed"}]


def test_accept_partial_keeps_what_came_before_the_fault(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [
        har_entry(headers=[("X-API-Key", SECRET)]),
        har_entry(headers=[("X-API-Key", "second_" + "z" * 20)]),
    ]
    text = write_har(tmp_path / "t.har", entries).read_text()
    cut = tmp_path / "cut.har"
    cut.write_text(text[: text.rindex("second_")])
    code = main(
        [
            "-w",
            str(sqlite_workspace.root),
            "exposure",
            "add",
            "--name",
            "p",
            "--accept-partial",
            str(cut),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["items"] == 1
    assert (
        out["file_results"][0]["status"] == "partial"
        and "entries[1]" in out["file_results"][0]["detail"]
    )


def _big_har(tmp_path: Path) -> Path:
    big = tmp_path / "big.har"
    with big.open("w") as fh:
        fh.write('{"log": {"version": "1.2", "entries": [')
        fh.write(json.dumps(har_entry(headers=[("X-API-Key", SECRET)])))
        fh.write(', {"startedDateTime": "2023-10-18T12:00:00Z", "request": {"url": "https://x/"}, ')
        fh.write(
            '"response": {"content": {"mimeType": "application/octet-stream", "encoding": "base64", "text": "'
        )
        chunk = "QUJD" * 262144  # 1 MiB of base64
        for _ in range(100):
            fh.write(chunk)
        fh.write('"}}}]}}')
    return big


def test_100mb_base64_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Over the body budget: a clear error, fast, nothing written. Within a raised budget:
    sanitized in bounded time and memory."""
    big = _big_har(tmp_path)
    out = tmp_path / "big.clean.har"
    started = time.monotonic()
    assert main(["har", "sanitize", str(big), str(out)]) == 2
    err = capsys.readouterr().err
    assert "entries[1]" in err and "longer than 64 MB" in err
    assert time.monotonic() - started < 20 and not out.exists()
    script = (
        "import resource, sys; from keyreaper.cli import main; "
        "code = main(['har', 'sanitize', sys.argv[1], sys.argv[2], '--max-body-mb', '128']); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script, str(big), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 60
    peak_mb = int(proc.stderr.strip().splitlines()[-1]) / 1024
    assert peak_mb < 1000, peak_mb
    clean = json.loads(out.read_text())
    assert len(clean["log"]["entries"][1]["response"]["content"]["text"]) == 100 * 2**20
    assert SECRET not in out.read_text()


def test_hostile_lists(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2 MB line, invalid UTF-8 and NUL bytes: reported with file and line, the rest read."""
    text = tmp_path / "ids.txt"
    text.write_bytes(b"tok-1\n" + b"A" * (2 << 20) + b"\n\xff\xfeuser-\xff\ntok-2\n")
    csv_file = tmp_path / "ids.csv"
    csv_file.write_bytes(b"identifier,date\nkey-1,2023-10-01\nkey-\x002,nope\n")
    code = main(
        [
            "-w",
            str(sqlite_workspace.root),
            "exposure",
            "add",
            "--name",
            "l",
            str(text),
            str(csv_file),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert f"{text}:2" in captured.err and "longer than" in captured.err
    idents = {
        r["identifier"] for r in sqlite_workspace.db.query("SELECT identifier FROM exposure_items")
    }
    assert {"tok-1", "tok-2", "key-1"} <= idents
    assert not any(len(i) > 1000 for i in idents)
