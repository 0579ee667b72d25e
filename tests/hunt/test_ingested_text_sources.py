"""Hunts over logs as `keyreaper logs ingest` stores them: sshd and access-log events keep a
text line (not JSON) in `raw`, and the store names the sources `sshd` and `web_access`.
Found while building the demo: JSON paths over text lines failed whole rules, and Sigma rules
for web servers never saw `web_access` events."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.hunt import timeline
from keyreaper.store import audit
from keyreaper.workspace import Workspace

IP = "203.0.113.99"


def _logs(folder: Path) -> Path:
    folder.mkdir()
    t = datetime(2023, 11, 15, 9, tzinfo=UTC)
    (folder / "auth.log").write_text(
        "".join(
            f"{(t + timedelta(minutes=n)).isoformat()} jump01 sshd[{100 + n}]: Accepted publickey"
            f" for deploy from 10.0.0.{n} port 5000{n} ssh2: ED25519 SHA256:abc{n}\n"
            for n in range(3)
        )
    )
    okta = [
        {"published": (t + timedelta(minutes=m)).isoformat(), "eventType": et,
         "actor": {"id": "00u1", "alternateId": "ana@example.test", "type": "User"},
         "client": {"ipAddress": ip, "geographicalContext": {"geolocation": geo}},
         "authenticationContext": {"externalSessionId": "102sess"},
         "outcome": {"result": "SUCCESS"}}
        for m, et, ip, geo in [
            (0, "user.session.start", "198.51.100.1", {"lat": 37.77, "lon": -122.42}),
            (20, "user.session.access_admin_app", IP, {"lat": 44.43, "lon": 26.10}),
        ]
    ]  # fmt: skip
    (folder / "okta.ndjson").write_text("".join(json.dumps(r) + "\n" for r in okta))
    stamp = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
    (folder / "access.log").write_text(
        "".join(
            f'{IP} - svc-wiki [{stamp}] "GET /dosearchsite.action?queryString={w} HTTP/1.1"'
            f' 200 512 "-" "python-requests/2.31.0"\n'
            for w in ("secret", "token", "client-secret", "cloudflared", "password", "secret")
        )
    )
    return folder


def _run(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> str:
    capsys.readouterr()
    code = main(["-w", str(ws.root), *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_packs_run_over_text_line_sources(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    _run(capsys, ws, "logs", "ingest", "--no-progress", str(_logs(tmp_path / "logs")))
    result = json.loads(_run(capsys, ws, "hunt", "--json"))
    assert result["rule_errors"] == []  # JSON paths over sshd/web text lines read NULL
    by = {(h["hunt"], h["source"]) for h in result["hits"]}
    assert ("impossible_travel", "okta") in by
    assert ("admin_via_proxy_or_new_asn", "okta") in by
    # the search words live only in raw (web_access drops the query string from target_name)
    assert ("atlassian_secret_search_burst", "web_access") in by
    cov = json.loads(_run(capsys, ws, "hunt", "coverage", "--json"))
    web = [c for c in cov if c["hunt"] == "atlassian_secret_search_burst" and "web" in c["source"]]
    assert web and all(c["status"] == "ok" for c in web)


def test_timeline_until_and_picture_height(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    _run(capsys, ws, "logs", "ingest", "--no-progress", str(_logs(tmp_path / "logs")))
    _run(capsys, ws, "hunt")
    audit.record(ws.db, "campaign.revoke", subject="svc-wiki", outcome="ok")  # stamped today
    every = json.loads(_run(capsys, ws, "timeline", "--json"))
    assert any(r["lane"] == "action" for r in every)
    cut = json.loads(_run(capsys, ws, "timeline", "--until", "2023-11-16", "--json"))
    assert cut and all(r["time"] < "2023-11-16" for r in cut) and len(cut) < len(every)
    rows = [dict(every[0], time=f"2023-11-15T09:{n % 60:02d}:00+00:00") for n in range(400)]
    png = timeline.picture(rows, tmp_path / "t.png")
    width, height = struct.unpack(">II", png.read_bytes()[16:24])
    assert height < 1200 < width  # lanes set the height, not the number of rows
