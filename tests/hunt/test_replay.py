"""The published Cloudflare timeline, replayed: hunt + sweep + timeline recover every step,
in order, with its evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from tests.hunt import replay

from keyreaper.cli import main
from keyreaper.domain import Credential
from keyreaper.hunt import timeline
from keyreaper.inventory import repo
from keyreaper.workspace import Workspace


def _run(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> str:
    capsys.readouterr()
    code = main(["-w", str(ws.root), *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_replay_recovers_each_step(
    replay_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = replay_ws
    repo.upsert(ws.db, [Credential("atlassian:service_account:smartsheet", "atlassian",
                                   "service_account", (replay.SVC,))], "test")  # fmt: skip
    ws.db.execute(
        "INSERT INTO exposures (name, t0, t0_source, created_at) VALUES (?, ?, ?, ?)",
        ("okta-har-2023", "2023-10-18T00:00:00+00:00", "support case HAR upload", "2023-10-20"),
    )
    ws.db.execute(
        "INSERT INTO exposure_items (exposure, item_key, kind, identifier, credential_id)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            "okta-har-2023",
            "k1",
            "service_account",
            replay.SVC,
            "atlassian:service_account:smartsheet",
        ),
    )
    pasted = tmp_path / "cloudflare-iocs.txt"
    pasted.write_text(replay.CLOUDFLARE_TABLE)
    assert "5 indicators" in _run(capsys, ws, "ioc", "import", str(pasted))

    hits = json.loads(_run(capsys, ws, "hunt", "--since", "2023-11-01", "--json"))["hits"]
    by = {(h["hunt"], h["time"][:10]) for h in hits}
    assert ("ioc:ipv4", "2023-11-14") in by  # probing, denied, from the actor's IP
    assert ("atlassian_secret_search_burst", "2023-11-15") in by
    assert ("lookalike_service_account", "2023-11-16") in by
    assert ("atlassian_plugin_install", "2023-11-22") in by
    assert ("ioc:domain", "2023-11-22") in by  # payload fetched from idowall.com
    assert ("bitbucket_mass_clone", "2023-11-22") in by
    assert ("admin_grant", "2023-11-23") in by
    assert ("atlassian_service_account_admin_group", "2023-11-23") in by
    grant = next(h for h in hits if h["hunt"] == "admin_grant")
    assert grant["detail"]["service_account"] == replay.SVC  # the grantee stands out
    denied = [h for h in hits if h["source"] == "sshd" and h["hunt"] == "ioc:ipv4"]
    assert denied and denied[0]["outcome"] == "failure" and denied[0]["matched_field"] == "src_ip"
    assert all(h["origin"] for h in hits)
    okta = next(h for h in hits if h["hunt"] == "ioc:ipv4" and h["source"] == "okta")
    assert okta["outcome"] == "failure" and okta["actor"] == replay.SVC
    assert okta["inventory_id"] == "atlassian:service_account:smartsheet"

    sweep = json.loads(
        _run(capsys, ws, "hunt", "sweep", replay.SVC, "--since", "2023-11-14", "--json")
    )
    whats = [(s["time"][:10], s["detail"]["what"]) for s in sweep]
    assert whats == [
        ("2023-11-16", "user"),
        ("2023-11-22", "plugin"),
        ("2023-11-23", "group_grant"),
    ]
    assert sweep[0]["target"] == "smartsheet-svcs"

    rows = json.loads(_run(capsys, ws, "timeline", "--json"))
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    steps = [
        ("exposure", "okta-har-2023"),
        ("first_use", "smartsheet"),
        ("hit", "ioc:ipv4"),
        ("hit", "atlassian_secret_search_burst"),
        ("sweep", "user: User created"),
        ("sweep", "plugin: Plugin installed"),
        ("hit", "atlassian_service_account_admin_group"),
    ]
    positions = [next(i for i, r in enumerate(rows) if r["lane"] == lane and key in r["what"])
                 for lane, key in steps]  # fmt: skip
    assert positions == sorted(positions)
    first_use = rows[positions[1]]
    assert first_use["evidence"].startswith("replay-")
    assert datetime.fromisoformat(first_use["time"]) > datetime(2023, 10, 18, tzinfo=UTC)

    picture = tmp_path / "timeline.png"
    _run(capsys, ws, "timeline", "--picture", str(picture), "--actor", replay.SVC)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = timeline.svg(rows)
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "hit" in text
    drawn = tmp_path / "timeline.svg"
    _run(capsys, ws, "timeline", "--picture", str(drawn), "--actor", replay.SVC)
    root = ElementTree.fromstring(drawn.read_text())  # noqa: S314 - our own output; well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}circle")) >= len(steps)

    table = _run(capsys, ws, "ioc", "export", "--table")
    assert "193.142.58[.]126" in table and "idowall[.]com" in table
    assert "198.244.174" not in table  # never seen here: not confirmed, not shared
    bundle = tmp_path / "confirmed.json"
    _run(capsys, ws, "ioc", "export", "--stix", str(bundle))
    doc = json.loads(bundle.read_text())
    patterns = [o["pattern"] for o in doc["objects"] if o["type"] == "indicator"]
    assert "[ipv4-addr:value = '193.142.58.126']" in patterns

    gaps = json.loads(_run(capsys, ws, "hunt", "coverage", "--json"))
    gh = [g for g in gaps if g["hunt"] == "github_app_installed"]
    assert gh and gh[0]["status"].startswith("GAP") and gh[0]["hunt_blind"]
