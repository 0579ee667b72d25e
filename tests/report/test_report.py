"""`keyreaper report` against a real incident workspace: each section's numbers are what the
corresponding --json command prints, no secret reaches the file, hostile names stay text,
and an empty workspace says so in every section."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from keyreaper.cli import main
from tests.report.conftest import IMG, SCRIPT, SINCE, Incident, cli, cli_json
from tests.report.page import body_rows, read

LEGEND = {"dead": "verified dead", "rotated": "rotated", "failing": "failed",
          "blocked": "blocked", "needs_manual": "needs_manual", "excepted": "excepted",
          "remaining": "remaining"}  # fmt: skip


def test_header_and_campaigns_match_campaign_status(incident: Incident) -> None:
    head, sections = read(incident.html)
    campaigns = sections["campaigns"]
    statuses = [
        cli_json(incident.ws, "campaign", "status", n) for n in ("code-red", "cmd-rotation")
    ]
    assert len(campaigns.svgs) == 2 and len(campaigns.tables) == 1  # cmd-rotation: all dead
    for status, svg in zip(statuses, campaigns.svgs, strict=True):
        for key, label in LEGEND.items():
            assert f"{label} {status['counts'][key]}" in svg.texts, (status["campaign"], key)
    assert statuses[1]["counts"]["dead"] == 2 == statuses[1]["counts"]["total"]
    assert "every item is verified dead" in campaigns.text
    rows = body_rows(campaigns.tables[0])
    assert [r[0] for r in rows] == [i["item"] for i in statuses[0]["not_dead"]]
    assert [r[-1] for r in rows] == [i["why"] for i in statuses[0]["not_dead"]]
    dead = sum(s["counts"]["dead"] for s in statuses)
    total = sum(s["counts"]["total"] for s in statuses)
    usage = incident.usage
    critical = usage.count('"severity": "critical"')
    gaps = [
        r
        for r in cli_json(incident.ws, "hunt", "coverage", "--since", SINCE)
        if r["status"] != "ok"
    ]
    assert (
        f"{dead} of {total} campaign items verified dead; {critical} credentials claimed unused "
        f"but USED; {len(gaps)} coverage gaps;" in head
    )
    assert critical == 4 and gaps
    assert str(incident.ws / ".keyreaper") in head or str(incident.ws) in head


def test_exposures_match_exposure_list_and_show(incident: Incident) -> None:
    section = read(incident.html)[1]["exposures"]
    listed = cli_json(incident.ws, "exposure", "list")
    summary = body_rows(section.tables[0])
    assert [r[0] for r in summary] == [e["name"] for e in listed]
    for row, e in zip(summary, listed, strict=True):
        assert row[2:] == [e["t0_source"], *(str(e[k]) for k in
                           ("files", "items", "matched_items", "orphans", "credentials"))]  # fmt: skip
    tables = iter(section.tables[1:])
    for e in listed:
        matched, unmatched = next(tables), next(tables)
        show = cli_json(incident.ws, "exposure", "show", e["name"])
        creds = sorted({c for i in show["items"] for c in i["credentials"]})
        assert [r[0] for r in body_rows(matched)] == creds
        orphans = [i for i in show["items"] if i["orphan"]]
        assert [r[1] for r in body_rows(unmatched)] == [i["hint"] for i in orphans]
    assert "okta-admin-session" in section.text and "JSESSIONID" in section.text
    har = "read from: examples/incident/har/okta-support-case.har (har, 7 items, ok)"
    assert any(c == "note" and t == har for c, t in section.classes)


def test_usage_matches_the_stored_attestations(incident: Incident) -> None:
    section = read(incident.html)[1]["usage"]
    import json

    rows = json.loads(incident.usage)  # what `usage --json` printed and stored
    counts = Counter(r["verdict"] for r in rows)
    for verdict in ("USED", "NOT_SEEN", "UNKNOWN"):
        assert f"{verdict} {counts[verdict]}" in section.svgs[0].texts
    flagged = body_rows(section.tables[0])
    assert {r[0] for r in flagged} == {r["credential_id"] for r in rows if r["flags"]}
    critical = sorted(r["credential_id"] for r in rows if r["severity"] == "critical")
    assert sorted(r[0] for r in flagged[: len(critical)]) == critical  # claimed unused: first
    assert flagged[len(critical)][3] == "never_used"  # legacy-jump-key: then never used
    evidence = {r[0]: r[-1] for r in flagged}
    assert all(evidence[c] == next(r["last_evidence"] for r in rows if r["credential_id"] == c)
               for c in critical)  # fmt: skip
    unknown = body_rows(section.tables[1])
    assert {r[0] for r in unknown} == {
        r["credential_id"] for r in rows if r["verdict"] == "UNKNOWN"
    }


def test_hunt_hits_and_gaps_match_hunt_and_coverage(incident: Incident) -> None:
    section = read(incident.html)[1]["hunt"]
    sweep = cli_json(incident.ws, "hunt", "sweep", "smartsheet-svc", "--since", SINCE)
    hits = incident.hunt["hits"]
    per_hunt = Counter(h["hunt"] for h in [*hits, *sweep])
    table = body_rows(section.tables[0])
    shown: Counter[str] = Counter()
    for r in table:
        shown[r[2].split(": ")[0]] += int(r[4])
    assert shown == per_hunt
    head = read(incident.html)[0]
    assert f"; {sum(per_hunt.values())} hunt hits" in head
    ioc = next(r for r in table if r[3] == "193.142.58.126")
    assert SCRIPT in ioc[6] and IMG in ioc[7]
    assert "examples/incident/logs/okta/system-log.ndjson:" in ioc[9]
    gaps = [
        r
        for r in cli_json(incident.ws, "hunt", "coverage", "--since", SINCE)
        if r["status"] != "ok"
    ]
    shown_gaps = body_rows(section.tables[1])
    assert [(r[0], r[1], r[2], r[4]) for r in shown_gaps] == [
        (g["hunt"], g["source"], g["event_type"], g["status"]) for g in gaps
    ]
    assert any(c == "loud" and f"{len(gaps)} coverage gaps" in t for c, t in section.classes)
    bars = section.svgs[0].texts
    assert "ioc:ipv4" in bars and str(per_hunt["ioc:ipv4"]) in bars


def test_timeline_matches_timeline_json_and_is_drawn(incident: Incident) -> None:
    section = read(incident.html)[1]["timeline"]
    rows = cli_json(incident.ws, "timeline", "--since", SINCE)
    table = body_rows(section.tables[0])
    assert [r[2] for r in table] == [r["what"] for r in rows]
    assert [r[1] for r in table] == [r["lane"] for r in rows]
    (svg,) = section.svgs
    assert svg.counts["circle"] == len(rows)
    for lane in ("exposure", "first use", "hit", "sweep", "action"):
        assert lane in svg.texts
    assert "campaign.revoke_old cmd-rotation/cmd-key-old0" in {r["what"] for r in rows}


def test_iocs_are_the_export_table(incident: Incident) -> None:
    section = read(incident.html)[1]["iocs"]
    code, out, _ = cli(incident.ws, "ioc", "export", "--table")
    assert code == 0
    expected = [[c.strip() for c in line.strip("|").split(" | ")] for line in out.splitlines()[2:]]
    assert body_rows(section.tables[0]) == expected
    assert [
        "193.142.58[.]126",
        "IPv4",
        "primary actor infrastructure (M247, Bucharest)",
    ] in expected


def test_no_secret_in_the_report(incident: Incident) -> None:
    assert len(incident.canaries) > 20
    data = incident.report.read_bytes()
    leaks = [c[:6] + "…" for c in incident.canaries if c.encode() in data]
    assert leaks == []
    assert incident.report.stat().st_mode & 0o077 == 0  # written under keyreaper's umask
    demo_report = incident.ws / "report.html"  # the demo's own step wrote one too
    assert demo_report.exists()
    assert [c for c in incident.canaries if c.encode() in demo_report.read_bytes()] == []


def test_hostile_names_are_escaped(incident: Incident) -> None:
    html = incident.html
    assert SCRIPT not in html and IMG not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert re.findall(r"<script", html, re.I) == []
    assert len(re.findall(r"<svg ", html)) >= 4  # campaigns x2, usage, hits, timeline


def test_empty_workspace_says_so_in_every_section(tmp_path: Path, capsys: object) -> None:
    assert main(["init", str(tmp_path)]) == 0
    out = tmp_path / "r.html"
    code, text, err = cli(tmp_path, "report", "--out", str(out))
    assert code == 0, err
    assert (
        "0 of 0 campaign items verified dead; 0 credentials claimed unused but USED; no events"
        in text
    )
    head, sections = read(out.read_text())
    assert list(sections) == ["campaigns", "exposures", "usage", "hunt", "timeline", "iocs"]
    expected = {
        "campaigns": "no campaigns in this workspace",
        "exposures": "no exposures in this workspace",
        "usage": "no usage attestations stored",
        "hunt": "no events in this workspace: all",
        "timeline": "nothing on the timeline",
        "iocs": "no indicator confirmed in this incident",
    }
    for key, message in expected.items():
        assert message in sections[key].text, key
    assert "no hunt hits stored in this window" in sections["hunt"].text
    assert "time window" in head and "the beginning to now" in head


def test_bad_options_are_one_clear_line(incident: Incident, tmp_path: Path) -> None:
    code, _, err = cli(
        incident.ws, "report", "--out", str(tmp_path / "x.html"), "--campaign", "nope"
    )
    assert code == 2 and "no campaign named 'nope'" in err and "Traceback" not in err
    code, _, err = cli(incident.ws, "report", "--since", "2023-12-01", "--until", "2023-11-01")
    assert code == 2 and "is not before --until" in err
    code, _, err = cli(incident.ws, "report", "--since", "yesterday")
    assert code == 2 and "not a time" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = cli(incident.ws, "report", "--out", str(blocker / "r.html"))
    assert code == 2 and "cannot write the report" in err
    code, out, _ = cli(incident.ws, "report", "--out", str(tmp_path / "one.html"), "--campaign",
                       "cmd-rotation", "--since", SINCE, "--until", "2023-11-24")  # fmt: skip
    assert code == 0 and out.splitlines()[1].startswith("2 of 2 campaign items verified dead")
    sections = read((tmp_path / "one.html").read_text())[1]
    assert "campaign.revoke_old" not in sections["timeline"].text  # today's actions: after --until
