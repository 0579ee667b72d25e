"""Indicator matching on the store and on raw files: every field, CIDR and domain-suffix
semantics, validity windows, evidence; the raw-file scan agrees with the store."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.hunt import events

from keyreaper.domain.model import Indicator
from keyreaper.events.store import EventStore
from keyreaper.hunt import ioc_match, rawscan
from keyreaper.workspace import Workspace

INDICATORS = [
    Indicator("ipv4", "193.142.58.126"),
    Indicator("cidr", "198.51.100.0/24"),
    Indicator("cidr", "203.0.0.0/12"),
    Indicator("cidr", "2001:db8::/32"),
    Indicator("domain", "idowall.com"),
    Indicator("url", "https://evil.example/payload"),
    Indicator("user_agent", "python-requests/2.31.0"),
    Indicator("email", "mallory@evil.example"),
    Indicator("credential_id", "AKIAIOSFODNN7EXAMPLE"),
    Indicator("asn", "9009"),
    Indicator("file_name", "jvm-agent"),
    Indicator("ipv4", "192.0.2.77", valid_from=datetime(2024, 1, 10, tzinfo=UTC)),
]


def _okta(n: int, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "published": (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n % 20)).isoformat(),
        "eventType": "user.session.start",
        "actor": {"alternateId": f"user{n}@corp.example", "id": f"00u{n}"},
        "client": {"ipAddress": f"10.0.{n % 250}.{n % 200}", "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "securityContext": {"asNumber": 64500 + n % 7},
        "debugContext": {"debugData": {"url": f"/app/{n}"}},
        "target": [],
    }  # fmt: skip
    for key, value in kw.items():
        node = rec
        *head, last = key.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = value
    return rec


def _records() -> list[dict[str, Any]]:
    rnd = random.Random(7)
    recs = [_okta(n) for n in range(300)]
    planted = {
        3: {"client.ipAddress": "193.142.58.126"},
        5: {"request.ipChain": [{"ip": "198.51.100.9"}]},  # only in a nested array
        8: {"client.ipAddress": "203.15.1.1"},  # inside the /12
        9: {"client.ipAddress": "203.16.1.1"},  # just outside it
        11: {"client.ipAddress": "2001:db8::5"},
        13: {"debugContext.debugData.url": "https://cdn.idowall.com/x"},  # subdomain
        14: {"debugContext.debugData.url": "https://notidowall.com/x"},  # not a subdomain
        17: {"debugContext.debugData.url": "https://evil.example/payload?id=1"},
        18: {"debugContext.debugData.url": "https://evil.example/other"},  # host only: no
        21: {"client.userAgent.rawUserAgent": "python-requests/2.31.0"},
        23: {"actor.alternateId": "mallory@evil.example"},
        24: {"target": [{"alternateId": "AKIAIOSFODNN7EXAMPLE"}]},
        27: {"securityContext.asNumber": 9009},
        29: {"displayMessage": "downloaded /tmp/jvm-agent"},
        31: {"client.ipAddress": "192.0.2.77", "published": "2024-01-05T00:00:00+00:00"},  # before valid_from
        32: {"client.ipAddress": "192.0.2.77", "published": "2024-01-15T00:00:00+00:00"},
    }  # fmt: skip
    for n, fields in planted.items():
        recs[n] = _okta(n, **fields)
    rnd.shuffle(recs)
    return recs


EXPECTED = {  # record number (in the unshuffled list) -> indicator value
    3: "193.142.58.126", 5: "198.51.100.0/24", 8: "203.0.0.0/12", 11: "2001:db8::/32",
    13: "idowall.com", 17: "https://evil.example/payload", 21: "python-requests/2.31.0",
    23: "mallory@evil.example", 24: "AKIAIOSFODNN7EXAMPLE", 27: "9009", 29: "jvm-agent",
    32: "192.0.2.77",
}  # fmt: skip


def _number(rec: dict[str, Any]) -> int:
    return int(rec["actor"]["id"][3:]) if rec["actor"].get("id") else -1


def test_store_and_raw_agree(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    recs = _records()
    store = EventStore(sqlite_workspace.events_dir)
    events.write(store, "okta", recs, name="okta")
    con = store.connect()
    hits = ioc_match.hunt(con, store.files(), sqlite_workspace.root / "idx", INDICATORS)
    by_line = {int(h.origin.rsplit(":", 1)[1]): h for h in hits}
    got = {_number(recs[line - 1]): h.indicator for line, h in by_line.items()}
    assert got == EXPECTED
    fields = {_number(recs[line - 1]): h.matched_field for line, h in by_line.items()}
    assert fields[3] == "src_ip" and fields[5] == "raw:$.request.ipChain[0].ip"
    assert fields[13] == "raw:$.debugContext.debugData.url" and fields[27] == "src_asn"

    raw = tmp_path / "okta.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in recs))
    raw_hits = rawscan.scan([raw], INDICATORS)
    text = raw.read_bytes()
    line_of = {off: text.count(b"\n", 0, off) + 1 for off in {h.offset for h in raw_hits}}
    # The raw scan knows no event time, so the validity window is the store's job.
    assert {(line_of[h.offset], h.indicator.value) for h in raw_hits} == {
        (line, h.indicator) for line, h in by_line.items()
    } | {(n + 1, "192.0.2.77") for n, r in enumerate(recs) if _number(r) == 31}

    # the index is reused: a second hunt reads no raw record; an index of a file gone from
    # the store (or of an older index version) is dropped
    before = sorted(p.name for p in (sqlite_workspace.root / "idx").iterdir())
    stale = sqlite_workspace.root / "idx" / ("ab" * 12 + ".rows.parquet")
    stale.write_bytes(b"old")
    assert len(
        ioc_match.hunt(con, store.files(), sqlite_workspace.root / "idx", INDICATORS)
    ) == len(hits)
    assert sorted(p.name for p in (sqlite_workspace.root / "idx").iterdir()) == before
