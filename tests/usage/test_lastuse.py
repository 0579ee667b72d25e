"""last_use against a plain-Python computation of the same figures over random events:
window first/last/count, distinct IPs, last use's evidence, before-window use, new IPs and
ASNs, failures excluded, events linked twice counted once."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from keyreaper.events.schema import EVENT_SCHEMA
from keyreaper.events.store import EventStore
from keyreaper.usage.lastuse import Link, last_use

UNTIL = datetime(2026, 3, 10, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=60)
RECENT = UNTIL - timedelta(days=7)


def _events(rnd: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        key = f"AKIA{rnd.randrange(12):04d}"
        when = UNTIL - timedelta(seconds=rnd.randrange(-3 * 86_400, 90 * 86_400))
        ip = rnd.choice([None, *(f"192.0.2.{k}" for k in range(9))])
        asn = rnd.choice([None, 64500, 64501, 64502])
        if when >= RECENT and rnd.random() < 0.05:  # now and then a new IP, a new ASN
            ip, asn = f"198.51.100.{rnd.randrange(3)}", 64999
        if rnd.random() < 0.03 and (when < SINCE or when >= RECENT):
            ip = "203.0.113.9"  # used before the window and again lately: not new
        if i % 100 == 0:  # a key used only before the window
            key, when = "AKIA0012", SINCE - timedelta(days=rnd.randrange(1, 20))
        out.append(
            {
                "time": when,
                "source": "cloudtrail",
                "event_type": "GetCallerIdentity",
                "outcome": rnd.choice(["success", "success", "failure", None]),
                "credential_id": key,
                "session_id": f"S{key}" if rnd.random() < 0.3 else None,
                "src_ip": ip,
                "src_asn": asn,
                "user_agent": rnd.choice([None, "cli", "sdk"]),
                "raw": "{}",
                "origin": f"gen:{i + 1}",
            }
        )
    return out


def _expected(events: list[dict[str, Any]], cred_of: dict[str, str]) -> dict[str, Any]:
    """The figures by hand: an event counts once per credential even when linked twice."""
    uses: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["outcome"] == "failure" or e["time"] > UNTIL:
            continue
        linked = {cred_of.get(e["credential_id"]), cred_of.get(f"session:{e['session_id']}")}
        for c in linked - {None}:
            uses.setdefault(str(c), []).append(e)
    out = {}
    for cred, evs in uses.items():
        window = [e for e in evs if e["time"] >= SINCE]
        before = [e for e in evs if e["time"] < SINCE]
        old_ips = {e["src_ip"] for e in evs if e["time"] < RECENT}
        old_asns = {e["src_asn"] for e in evs if e["time"] < RECENT}
        late = [e for e in evs if e["time"] >= max(RECENT, SINCE)]
        last = max(window, key=lambda e: e["time"]) if window else None
        out[cred] = {
            "count": len(window),
            "first": min((e["time"] for e in window), default=None),
            "last": last["time"] if last else None,
            "ip_count": len({e["src_ip"] for e in window} - {None}) if window else 0,
            "last_origin": last["origin"] if last else "",
            "last_ever": last["time"] if last else max(e["time"] for e in before),
            "first_ever": min(e["time"] for e in evs),
            "new_ips": tuple(sorted({e["src_ip"] for e in late} - old_ips - {None}))
            if window
            else (),
            "new_asns": tuple(sorted({e["src_asn"] for e in late} - old_asns - {None}))
            if window
            else (),
        }
    return out


def test_last_use_matches_a_plain_computation(tmp_path: Path) -> None:
    rnd = random.Random(5)
    events = sorted(_events(rnd, 3000), key=lambda e: e["time"])
    store = EventStore(tmp_path / "events")
    cols = {f.name: [e.get(f.name) for e in events] for f in EVENT_SCHEMA}
    half = len(events) // 2  # two store files
    table = pa.Table.from_pydict(cols, schema=EVENT_SCHEMA)
    store.write("cloudtrail", table.slice(0, half).to_batches())
    store.write("cloudtrail", table.slice(half).to_batches())
    # 13 keys, 7 credentials (the last used only before the window): two keys each, and each credential's Okta-like session too
    links = []
    cred_of: dict[str, str] = {}
    for k in range(13):
        cred = f"cred-{k // 2}"
        links.append(Link(f"AKIA{k:04d}", cred, "credential"))
        links.append(Link(f"SAKIA{k:04d}", cred, "session"))
        cred_of[f"AKIA{k:04d}"] = cred
        cred_of[f"session:SAKIA{k:04d}"] = cred
    got = last_use(store, links, SINCE, UNTIL, RECENT)
    want = _expected(events, cred_of)
    assert set(got) == set(want) and len(want) == 7
    assert sum(bool(w["new_ips"]) for w in want.values()) >= 3
    returning = [c for c, u in got.items() if "203.0.113.9" in u.ips]
    assert returning and not any("203.0.113.9" in got[c].new_ips for c in returning)
    for cred, w in want.items():
        u = got[cred]
        assert u.count == w["count"], cred
        assert (u.first, u.last, u.ip_count) == (w["first"], w["last"], w["ip_count"]), cred
        assert (u.last_ever, u.first_ever) == (w["last_ever"], w["first_ever"]), cred
        assert u.last_origin == w["last_origin"], cred
        assert u.last_source == ("cloudtrail" if w["count"] else ""), cred
        assert (u.new_ips, u.new_asns) == (w["new_ips"], w["new_asns"]), cred
