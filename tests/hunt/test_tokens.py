"""The token index read without DuckDB agrees with DuckDB over the same event file: every
token's rows, domain suffixes, IPv4 ranges, IPv6 tokens, and every row's hit columns, across
block and fetch boundaries."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.hunt import events

from keyreaper.events.store import EventStore
from keyreaper.hunt import tokens, tokens_build
from keyreaper.hunt.scope import event_files
from keyreaper.workspace import Workspace


def _records(n: int, seed: int = 5) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        ip = f"10.{rnd.randint(0, 3)}.{rnd.randint(0, 255)}.{rnd.randint(1, 9)}"
        host = f"h{rnd.randint(0, 30)}.{rnd.choice(['evil.org', 'corp.example', 'a.b.c.io'])}"
        rec: dict[str, Any] = {
            "published": (t0 + timedelta(seconds=i)).isoformat(), "eventType": "user.session.start",
            "actor": {"id": f"00u{i % 7}", "alternateId": f"u{i % 7}@corp.example"},
            "client": {"ipAddress": ip if i % 9 else f"2001:db8::{i:x}"},
            "securityContext": {"asNumber": 64500 + i % 3},
            "debugContext": {"debugData": {"url": f"https://{host}/x?y=1"}},
            "target": [{"id": f"0oa{i % 4}", "alternateId": f"App {i % 4}"}],
        }  # fmt: skip
        out.append(rec)
    return out


@pytest.fixture
def indexed(sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> tokens.TokenIndex:
    # small blocks and fetches: blocks end and fetches split inside the file
    monkeypatch.setattr(tokens_build, "BLOCK", 3)
    monkeypatch.setattr(tokens_build, "FETCH_ROWS", 10)
    store = EventStore(sqlite_workspace.events_dir)
    events.write(store, "okta", _records(101), name="okta")
    files = event_files(sqlite_workspace.events_dir)
    assert files == store.files()
    index = tokens.ensure(None, sqlite_workspace.root / "idx", files)
    (path,) = index
    return tokens.TokenIndex(path)


def _truth(index: tokens.TokenIndex, data: Path) -> dict[str, list[int]]:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT tok, list(rn ORDER BY rn) FROM (SELECT file_row_number AS rn,"
        f" unnest({tokens.token_expr('raw')}) AS tok FROM read_parquet('{data}',"
        " file_row_number = true)) WHERE tok IS NOT NULL AND tok <> '' GROUP BY tok"
    ).fetchall()
    return {tok: list(rns) for tok, rns in rows}


def test_lookups_agree_with_duckdb(indexed: tokens.TokenIndex, sqlite_workspace: Workspace) -> None:
    (data,) = event_files(sqlite_workspace.events_dir)
    truth = _truth(indexed, data)
    for tok, rns in truth.items():
        ((tid,),) = indexed.exact([tok])
        assert indexed.token(tid) == tok
        assert list(indexed.rows(tid)) == rns
    assert indexed.exact(["not-a-token.example"]) == [[]]
    for domain in ("evil.org", "corp.example", "b.c.io", "c.io", "h3.evil.org"):
        want = {t for t in truth if domain in tokens.suffixes(t)}
        (found,) = indexed.within_domain([domain])
        assert {indexed.token(t) for t in found} == want
        assert want or domain == "h3.evil.org"
    lo, hi = int(ipaddress.IPv4Address("10.1.0.0")), int(ipaddress.IPv4Address("10.2.255.255"))
    want4 = {t for t in truth if (v := tokens.ip4_value(t)) is not None and lo <= v <= hi}
    assert {indexed.token(t) for t in indexed.ip4_between(lo, hi)} == want4 != set()
    want6 = {t for t in truth if ":" in t and t.startswith("2001:db8")}
    assert {indexed.token(t) for _, t in indexed.ip6_values()} == want6 != set()


def test_row_columns_agree_with_duckdb(
    indexed: tokens.TokenIndex, sqlite_workspace: Workspace
) -> None:
    (data,) = event_files(sqlite_workspace.events_dir)
    cols = ", ".join("epoch_us(time)" if c == "time" else c for c in tokens.HIT_COLUMNS)
    want = (
        duckdb.connect()
        .execute(f"SELECT {cols} FROM read_parquet('{data}') ORDER BY origin")
        .fetchall()
    )
    assert indexed.meta["rows"] == len(want) == 101
    got = indexed.events(range(101))
    assert sorted(tuple(v) for v in got.values()) == sorted(want)
    assert got[100][-1] == "okta.jsonl:101"  # row numbers line up across blocks and fetches
