"""The report's own reading of the store (hits grouped in SQL, campaigns, exposures-free
workspaces) on both state stores, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyreaper.cli import main
from keyreaper.domain import Credential
from keyreaper.hunt.store import Hit, save_hits
from keyreaper.inventory import repo
from keyreaper.report import data, html
from keyreaper.workspace import Workspace
from tests.report.page import body_rows, read

T = datetime(2023, 11, 20, 10, 0, tzinfo=UTC)


def test_hits_grouped_in_the_store_and_cut_to_the_window(workspace: Workspace) -> None:
    repo.upsert(workspace.db, [Credential(id="svc", provider="jira", kind="service_account",
                                          identifiers=("svc-user",))], "test")  # fmt: skip
    hits = [
        Hit(kind="ioc", hunt="ioc:ipv4", time=T + timedelta(minutes=i), origin=f"okta.log:{10 - i}",
            indicator="193.142.58.126", matched_field="src_ip", source="okta" if i % 2 else "jira",
            actor=f"actor{i}", credential="svc-user", inventory_id="svc" if i else "",
            target="<script>alert(1)</script>")
        for i in range(14)
    ] + [Hit(kind="pack", hunt="lookalike", title="Look-alike user", time=T - timedelta(days=30),
             origin="jira.log:1", actor="svc-user")]  # fmt: skip
    save_hits(workspace.db, hits)
    assert main(["-w", str(workspace.root), "campaign", "plan", "c", "--all"]) == 0

    everything = data.gather(workspace)
    assert everything.hits == 15
    assert [g["hunt"] for g in everything.hit_groups] == ["lookalike", "ioc:ipv4"]  # by first time
    ioc = everything.hit_groups[1]
    assert ioc["hits"] == 14 and ioc["sources"] == ["jira", "okta"]
    assert ioc["origins"] == ["okta.log:10", "okta.log:9", "okta.log:8"]  # the first three in time
    assert ioc["credentials"] == ["svc", "svc-user"]  # the inventory id where the hit knew it
    assert len(ioc["actors"]) == 11 and ioc["actors"][-1] == "+4 more"
    assert ioc["first"] == T.isoformat() and ioc["last"] == (T + timedelta(minutes=13)).isoformat()
    assert everything.campaigns[0]["counts"]["blocked"] == 1

    window = data.gather(workspace, T + timedelta(minutes=2), T + timedelta(minutes=5))
    assert window.hits == 3 and [g["hunt"] for g in window.hit_groups] == ["ioc:ipv4"]
    page = html.render(window)
    assert "<script>" not in page
    head, sections = read(page)
    (row,) = body_rows(sections["hunt"].tables[0])
    assert row[4] == "3" and row[7] == "<script>alert(1)</script>"
    assert row[0] == "2023-11-20 10:02 UTC\nto 2023-11-20 10:04 UTC"
    assert "0 of 1 campaign items verified dead" in head and "; 3 hunt hits" in head
