"""IPv6 CIDRs: Sigma's |cidr modifier and IoC CIDR indicators over real-world IPv6 addresses
(Cloudflare's and Google's resolvers, an Akamai edge, link-local with a zone, IPv4-mapped),
written compressed, expanded and upper-case; the store hunt and the raw scan agree."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.hunt import events

from keyreaper.domain.model import Indicator
from keyreaper.events.store import EventStore
from keyreaper.hunt import ioc_match, ipsql, rawscan, sigma_run
from keyreaper.workspace import Workspace

ADDRESSES = [
    "2606:4700:4700::1111", "2606:4700:4700:0:0:0:0:1001", "2606:4700:4700:0000:0000:0000:0000:0064",
    "2001:4860:4860::8888", "2001:4860:4861::8888", "2606:4701::1", "2a02:26f0:2b00:383::1a2b",
    "2A02:26F0:2B00:383::1A2C", "2a06:98c1:3120::3", "fe80::1%eth0", "::1", "::",
    "::ffff:192.0.2.10", "64:ff9b::c000:221", "2001:db8:1:2:3:4:5:6",
]  # fmt: skip
NOT_ADDRESSES = ["1:2:3:4:5:6:7:8:9", "1::2::3", "2001:db8:::1", "12345::1", "g::1", "a:b",
                 "1:2:3:4:5:6:7:8::", "10.0.0.1", "user@corp.example", ""]  # fmt: skip


@pytest.mark.parametrize("text", ADDRESSES + NOT_ADDRESSES)
def test_sql_ipv6_form_agrees_with_python(text: str) -> None:
    con = duckdb.connect()
    ipsql.install(con)
    try:
        want: str | None = ipaddress.IPv6Address(text.split("%")[0]).exploded.replace(":", "")
    except ValueError:
        want = None
    row = con.execute("SELECT kr_ip6(?)", [text]).fetchone()
    assert row is not None and row[0] == want


def _okta(n: int, ip: str, chain: str | None = None) -> dict[str, Any]:
    when = datetime(2024, 5, 1, 12, tzinfo=UTC) + timedelta(minutes=n)
    rec: dict[str, Any] = {
        "published": when.isoformat(), "eventType": "user.session.start",
        "actor": {"alternateId": f"user{n}@corp.example", "id": f"00u{n}"},
        "client": {"ipAddress": ip}, "target": [],
    }  # fmt: skip
    if chain:
        rec["request"] = {"ipChain": [{"ip": ip}, {"ip": chain}]}
    return rec


RECORDS = [_okta(n, ip) for n, ip in enumerate(ADDRESSES)]
RECORDS.append(_okta(len(ADDRESSES), "198.51.100.7", chain="2606:4700:4700::6400"))  # proxied


def _actors(hits: list[Any]) -> set[str]:
    return {h.actor for h in hits}


def test_sigma_cidr_ipv6(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    store = EventStore(sqlite_workspace.events_dir)
    events.write(store, "okta", RECORDS, name="okta")
    rule = tmp_path / "r.yml"
    rule.write_text("""
title: cloudflare or google resolvers
id: 66666666-6666-4666-8666-666666666666
logsource: {product: okta, service: okta}
detection:
    column:
        src_ip|cidr: ['2606:4700::/32', '2001:4860:4860::/48', '192.0.2.0/24']
    nested:
        client.ipAddress|cidr: '2a02:26f0:2b00::/40'
    chain:
        request.ipChain.ip|cidr: '2606:4700:4700::6400/120'
    condition: column or nested or chain
""")
    (res,) = sigma_run.run_collection(store.connect(), sigma_run.load([rule]))
    assert not res.error, res.error
    inside = {0, 1, 2, 3, 6, 7, len(ADDRESSES)}  # the last one by its proxy chain only
    assert _actors(res.hits) == {f"user{n}@corp.example" for n in inside}


INDICATORS = [
    Indicator("cidr", "2606:4700:4700::/48"),
    Indicator("cidr", "2a02:26f0::/29"),  # not on a group boundary
    Indicator("cidr", "64:ff9b::/96"),
    Indicator("cidr", "fe80::/10"),
]
EXPECTED = {
    0: "2606:4700:4700::/48", 1: "2606:4700:4700::/48", 2: "2606:4700:4700::/48",
    6: "2a02:26f0::/29", 7: "2a02:26f0::/29", 9: "fe80::/10", 13: "64:ff9b::/96",
    len(ADDRESSES): "2606:4700:4700::/48",
}  # fmt: skip


def test_ioc_cidr_ipv6_store_and_raw(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    store = EventStore(sqlite_workspace.events_dir)
    events.write(store, "okta", RECORDS, name="okta")
    hits = ioc_match.hunt(store.connect(), store.files(), sqlite_workspace.root / "idx", INDICATORS)
    got = {int(h.origin.rsplit(":", 1)[1]) - 1: h.indicator for h in hits}
    assert got == EXPECTED
    assert {h.matched_field for h in hits if h.actor == f"user{len(ADDRESSES)}@corp.example"} == {
        "raw:$.request.ipChain[1].ip"
    }
    raw = tmp_path / "okta.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    text = raw.read_bytes()
    found = {
        (text.count(b"\n", 0, h.offset), h.indicator.value) for h in rawscan.scan([raw], INDICATORS)
    }
    assert found == set(EXPECTED.items())
