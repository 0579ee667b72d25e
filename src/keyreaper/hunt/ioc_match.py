"""Match indicators against every field of the event store: exact tokens, CIDR ranges,
domain suffixes (a listed domain matches its subdomains and e-mail addresses), URLs, user
agents, file names and hashes, key ids, ASNs. Each hit keeps its evidence: the event's
origin and the field (column or JSON path inside `raw`) that held the indicator."""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from keyreaper.domain.model import Indicator
from keyreaper.hunt import ipsql, tokens
from keyreaper.hunt.scope import time_window
from keyreaper.hunt.store import Hit

_IDENTITY = ("src_ip", "user_agent", "credential_id", "actor_id", "actor_name", "target_id")
_EVENT_COLS = ["time", "source", "event_type", "outcome", "actor_id", "actor_name",
               "credential_id", "src_ip", "src_asn", "user_agent", "target_id", "target_name",
               "origin"]  # fmt: skip
# Types that no token catches: found by a substring scan of raw (costs a pass over raw).
SCAN_TYPES = ("file_name",)


@dataclass(frozen=True)
class MatchKeys:
    exact: list[tuple[str, int]]  # (token, indicator index)
    domains: list[tuple[str, int]]
    cidr4: list[tuple[int, int, int]]  # (first, last, indicator index)
    cidr6: list[tuple[str, str, int]]  # (first, last as kr_ip6 hex, indicator index)
    scans: list[tuple[str, int]]


def keys_for(indicators: Sequence[Indicator]) -> MatchKeys:
    k = MatchKeys([], [], [], [], [])
    for i, ind in enumerate(indicators):
        v = ind.value.lower()
        if ind.type == "cidr":
            v4 = _v4_range(ind.value)
            if v4:
                k.cidr4.append((*v4, i))
            else:
                k.cidr6.append(
                    (*ipsql.v6_bounds(ipaddress.IPv6Network(ind.value, strict=False)), i)
                )
        elif ind.type == "domain":
            k.domains.append((v, i))
        elif ind.type == "url":
            host = v.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].split(":")[0]
            k.exact.append((host, i))
        elif ind.type == "asn":
            k.exact.append((f"as{int(ind.value)}", i))
        elif ind.type in SCAN_TYPES:
            k.scans.append((v, i))
        else:
            k.exact.append((v, i))
    return k


def _v4_range(cidr: str) -> tuple[int, int] | None:
    """First and last address of an IPv4 CIDR as integers (ipaddress is slow for 10k)."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)\.(\d+)/(\d+)", cidr)
    if not m:
        return None
    a, b, c, d, n = (int(x) for x in m.groups())
    first = ((a << 24) | (b << 16) | (c << 8) | d) & ~((1 << (32 - n)) - 1) & 0xFFFFFFFF
    return first, first | ((1 << (32 - n)) - 1)


def _register(
    con: duckdb.DuckDBPyConnection, name: str, cols: dict[str, tuple[str, list[Any]]]
) -> None:
    """A temporary table from Python lists, column -> (SQL type, values): each list is one
    parameter, unnested side by side (no pyarrow, which costs a third of a second to import)."""
    select = ", ".join(f"unnest(?::{typ}[]) AS {col}" for col, (typ, _) in cols.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select}",
        [values for _, values in cols.values()],
    )


# One scan of the token dictionaries per kind of key, each skipped when there is no key of
# its kind; all in one query (UNION ALL), so DuckDB runs them on both cores.
_MATCH_SQL = {
    "k_exact": "SELECT filename, ind, off, cnt FROM d JOIN k_exact USING (tok)",
    "k_domain": "SELECT filename, ind, off, cnt FROM (SELECT filename, off, cnt, unnest(sfx)"
    " AS key FROM d WHERE sfx IS NOT NULL) s JOIN k_domain ON s.key = k_domain.tok",
    "k_cidr4": "SELECT filename, ind, off, cnt FROM d JOIN k_cidr4"
    " ON d.ip4 BETWEEN k_cidr4.lo AND k_cidr4.hi",
    # IPv6 tokens are few: converted at hunt time rather than stored in the index
    "k_cidr6": "SELECT filename, ind, off, cnt FROM (SELECT filename, off, cnt, kr_ip6(tok)"
    " AS ip6 FROM d WHERE contains(tok, ':')) t JOIN k_cidr6 ON t.ip6 BETWEEN k_cidr6.lo"
    " AND k_cidr6.hi",
}


def matched_tokens(
    con: duckdb.DuckDBPyConnection, index_files: Sequence[str], keys: MatchKeys
) -> list[tuple[str, int, int, int]]:
    """(index file, indicator index, postings offset, count) for every token an indicator
    matches."""
    if not index_files:
        return []
    tables = {
        "k_exact": {
            "tok": ("VARCHAR", [t for t, _ in keys.exact]),
            "ind": ("INTEGER", [i for _, i in keys.exact]),
        },
        "k_domain": {
            "tok": ("VARCHAR", [t for t, _ in keys.domains]),
            "ind": ("INTEGER", [i for _, i in keys.domains]),
        },
        "k_cidr4": {
            "lo": ("UBIGINT", [a for a, _, _ in keys.cidr4]),
            "hi": ("UBIGINT", [b for _, b, _ in keys.cidr4]),
            "ind": ("INTEGER", [i for _, _, i in keys.cidr4]),
        },
        "k_cidr6": {
            "lo": ("VARCHAR", [a for a, _, _ in keys.cidr6]),
            "hi": ("VARCHAR", [b for _, b, _ in keys.cidr6]),
            "ind": ("INTEGER", [i for _, _, i in keys.cidr6]),
        },
    }
    wanted = [name for name, cols in tables.items() if cols["ind"][1]]
    if not wanted:
        return []
    for name in wanted:
        _register(con, name, tables[name])
    if "k_cidr6" in wanted:
        ipsql.install(con)
    files = "[" + ", ".join(tokens._sql_str(f) for f in index_files) + "]"
    # read_parquet written out in each branch: a CTE named twice is materialized first,
    # which costs ten times more than the scans themselves
    src = f"read_parquet({files}, filename = true)"
    sql = " UNION ALL ".join(_MATCH_SQL[n].replace("FROM d", f"FROM {src} d") for n in wanted)
    found = {(str(f), int(i), int(o), int(c)) for f, i, o, c in con.execute(sql).fetchall()}
    return sorted(found)


def field_of(event: dict[str, Any], needle: str) -> str:
    """Which column, or which JSON path of raw, holds the needle (lower-case)."""
    for col in (*_IDENTITY, "target_name"):
        val = event.get(col)
        if val is not None and needle in str(val).lower():
            return col
    if event.get("src_asn") is not None and needle == f"as{event['src_asn']}":
        return "src_asn"
    try:
        doc = json.loads(event.get("raw") or "null")
    except ValueError:
        return "raw"

    def walk(node: Any, path: str) -> str | None:
        if isinstance(node, dict):
            for k, v in node.items():
                found = walk(v, f"{path}.{k}")
                if found:
                    return found
        elif isinstance(node, list):
            for n, v in enumerate(node):
                found = walk(v, f"{path}[{n}]")
                if found:
                    return found
        elif node is not None and needle in str(node).lower():
            return path
        return None

    return "raw:" + (walk(doc, "$") or "$")


def _in_window(ind: Indicator, t: datetime) -> bool:
    return (ind.valid_from is None or t >= ind.valid_from) and (
        ind.valid_until is None or t <= ind.valid_until
    )


def hunt(
    con: duckdb.DuckDBPyConnection,
    data_files: Sequence[Path],
    index_dir: Path,
    indicators: Sequence[Indicator],
    since: datetime | None = None,
    until: datetime | None = None,
    id_map: dict[str, list[str]] | None = None,
) -> list[Hit]:
    """Every (indicator, event) pair that matches within the window, as hits."""
    keys = keys_for(indicators)
    index = tokens.ensure(con, index_dir, list(data_files))
    found: dict[tuple[str, int], set[int]] = {}  # (data file, row) -> indicator indexes
    runs: dict[str, list[tuple[int, int, int]]] = {}  # index file -> (off, cnt, indicator)
    for fname, ind, off, cnt in matched_tokens(con, list(index), keys):
        runs.setdefault(fname, []).append((off, cnt, ind))
    for fname, rs in runs.items():
        rs.sort()
        data = str(index[fname])
        for (_, _, ind), rns in zip(rs, tokens.postings(fname, [r[:2] for r in rs]), strict=True):
            for rn in rns:
                found.setdefault((data, rn), set()).add(ind)
    if keys.scans:
        _scan(con, data_files, keys, found)
    return _to_hits(con, found, indicators, since, until, id_map or {})


def _scan(
    con: duckdb.DuckDBPyConnection,
    data_files: Sequence[Path],
    keys: MatchKeys,
    found: dict[tuple[str, int], set[int]],
) -> None:
    for f in data_files:
        conds = " OR ".join(f"contains(low, {tokens._sql_str(v)})" for v, _ in keys.scans)
        rows = con.execute(
            f"SELECT rn, low FROM (SELECT file_row_number AS rn, lower(raw) AS low FROM"
            f" read_parquet({tokens._sql_str(str(f))}, file_row_number = true)) WHERE {conds}"
        ).fetchall()
        for rn, low in rows:
            for v, i in keys.scans:
                if v in low:
                    found.setdefault((str(f), int(rn)), set()).add(i)


# Reading `raw` costs as much as the whole file; the JSON path of a value found only in raw
# is worked out when the file is smaller than this (else the field is just "raw"; the origin
# still names the record). URL indicators always read raw: they are verified on it.
RAW_EVIDENCE_BYTES = 256 << 20


def _to_hits(
    con: duckdb.DuckDBPyConnection,
    found: dict[tuple[str, int], set[int]],
    indicators: Sequence[Indicator],
    since: datetime | None,
    until: datetime | None,
    id_map: dict[str, list[str]],
) -> list[Hit]:
    by_file: dict[str, list[int]] = {}
    for fname, rn in found:
        by_file.setdefault(fname, []).append(rn)
    hits: list[Hit] = []
    # epoch microseconds, not TIMESTAMPTZ: DuckDB's tz-aware datetimes cost a time-zone
    # lookup per row in Python
    cols = ", ".join(c if c != "time" else "epoch_us(time) AS time" for c in _EVENT_COLS)
    for fname, rns in by_file.items():
        _register(con, "want", {"rn": ("BIGINT", sorted(rns))})
        where, params = time_window(since, until)
        src = f"read_parquet({tokens._sql_str(fname)}, file_row_number = true)"
        cur = con.execute(
            f"SELECT p.file_row_number AS rn, {cols} FROM {src} p JOIN want"
            f" ON p.file_row_number = want.rn WHERE {' AND '.join(['true', *where])}",
            params,
        )
        names = [d[0] for d in cur.description]
        pending: list[tuple[dict[str, Any], Indicator]] = []
        for values in cur.fetchall():
            ev = dict(zip(names, values, strict=True))
            t = ev["time"] = datetime.fromtimestamp(ev["time"] / 1e6, UTC)
            for i in sorted(found[(fname, int(ev["rn"]))]):
                ind = indicators[i]
                if not _in_window(ind, t):
                    continue
                field = None if ind.type == "url" else _column_field(ev, ind)
                if field:
                    hits.append(_hit(ev, ind, field, id_map))
                else:
                    pending.append((ev, ind))
        if not pending:
            continue
        small = _raw_bytes(con, fname) <= RAW_EVIDENCE_BYTES
        if small or any(ind.type == "url" for _, ind in pending):
            wanted = ", ".join(sorted({str(ev["rn"]) for ev, _ in pending}))
            raws = dict(
                con.execute(
                    f"SELECT file_row_number, raw FROM {src} WHERE file_row_number IN ({wanted})"
                ).fetchall()
            )
        else:
            raws = {}
        for ev, ind in pending:
            raw = raws.get(ev["rn"])
            if ind.type == "url" and ind.value.lower() not in (raw or "").lower().replace(
                "\\/", "/"
            ):
                continue  # the host matched but not the whole URL
            ev = {**ev, "raw": raw}
            field = _raw_field(ev, ind) if raw is not None else "raw"
            hits.append(_hit(ev, ind, field, id_map))
    return sorted(hits, key=lambda h: (h.time, h.origin, h.indicator))


def _raw_bytes(con: duckdb.DuckDBPyConnection, fname: str) -> int:
    """Uncompressed size of the raw column: what reading it costs."""
    row = con.execute(
        "SELECT sum(total_uncompressed_size) FROM parquet_metadata(?) WHERE path_in_schema = 'raw'",
        [fname],
    ).fetchone()
    return int(row[0] or 0) if row else 0


@functools.lru_cache(maxsize=4096)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parsed once per indicator, not once per hit."""
    return ipaddress.ip_network(cidr, strict=False)


def _needle(ind: Indicator) -> str:
    return ind.value.lower() if ind.type != "asn" else f"as{int(ind.value)}"


def _column_field(ev: dict[str, Any], ind: Indicator) -> str | None:
    """The normalized column that explains the match, if one does (no need to read raw)."""
    if ind.type == "cidr":
        net = _network(ind.value)
        for col in ("src_ip",):
            try:
                if ev.get(col) and ipaddress.ip_address(str(ev[col])) in net:
                    return col
            except ValueError:
                pass
        return None
    if ind.type == "domain":
        v = ind.value.lower()
        for col in ("target_name", "actor_name", "actor_id", "target_id"):
            host = str(ev.get(col) or "").lower().rsplit("@", 1)[-1]
            if host == v or host.endswith("." + v):
                return col
        return None
    if ind.type == "asn":
        return (
            "src_asn" if ev.get("src_asn") is not None and int(ind.value) == ev["src_asn"] else None
        )
    needle = _needle(ind)
    return next(
        (c for c in (*_IDENTITY, "target_name") if str(ev.get(c) or "").lower() == needle), None
    )


def _raw_field(ev: dict[str, Any], ind: Indicator) -> str:
    if ind.type in ("cidr", "domain"):
        return _first_field(ev, ind)
    return field_of(ev, _needle(ind))


def _hit(ev: dict[str, Any], ind: Indicator, field: str, id_map: dict[str, list[str]]) -> Hit:
    actor = ev.get("actor_name") or ev.get("actor_id") or ""
    inv = next(
        (
            id_map[k][0]
            for k in (ev.get("credential_id"), ev.get("actor_id"), actor)
            if k and k in id_map
        ),
        "",
    )
    return Hit(
        kind="ioc", hunt=f"ioc:{ind.type}", title=ind.description or f"{ind.type} indicator",
        time=ev["time"], origin=ev["origin"], indicator_type=ind.type,
        indicator=ind.value, matched_field=field, source=ev["source"] or "",
        event_type=ev["event_type"] or "", outcome=ev.get("outcome") or "", actor=actor,
        credential=ev.get("credential_id") or "", inventory_id=inv,
        src_ip=ev.get("src_ip") or "", target=ev.get("target_name") or "",
        detail={"indicator_source": ind.source},
    )  # fmt: skip


def _first_field(ev: dict[str, Any], ind: Indicator) -> str:
    """For CIDR and domain indicators: the first field holding a value inside them."""
    if ind.type == "cidr":
        net = _network(ind.value)
        for tok in tokens_in(ev):
            try:
                if ipaddress.ip_address(tok) in net:
                    return field_of(ev, tok)
            except ValueError:
                continue
        return "raw"
    suffix = ind.value.lower()
    for tok in tokens_in(ev):
        host = tok.split("@")[-1]
        if host == suffix or host.endswith("." + suffix):
            return field_of(ev, tok)
    return "raw"


def tokens_in(ev: dict[str, Any]) -> list[str]:
    found = [str(ev.get(c) or "").lower() for c in _IDENTITY]
    found += re.findall(tokens.TOKEN_PATTERN, (ev.get("raw") or "").lower())
    return [t for t in found if t]
