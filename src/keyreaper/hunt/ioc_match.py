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
from typing import TYPE_CHECKING, Any

from keyreaper.domain.model import Indicator
from keyreaper.hunt import tokens
from keyreaper.hunt.store import Hit

if TYPE_CHECKING:
    import duckdb

_IDENTITY = ("src_ip", "user_agent", "credential_id", "actor_id", "actor_name", "target_id")
# Types that no token catches: found by a substring scan of raw (costs a pass over raw).
SCAN_TYPES = ("file_name",)


@dataclass(frozen=True)
class MatchKeys:
    exact: list[tuple[str, int]]  # (token, indicator index)
    domains: list[tuple[str, int]]
    cidr4: list[tuple[int, int, int]]  # (first, last, indicator index)
    cidr6: list[tuple[int, int, int]]
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
                net = ipaddress.IPv6Network(ind.value, strict=False)
                k.cidr6.append((int(net.network_address), int(net.broadcast_address), i))
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


@functools.lru_cache(maxsize=16384)
def _v4_range(cidr: str) -> tuple[int, int] | None:
    """First and last address of an IPv4 CIDR as integers (ipaddress is slow for 10k)."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)\.(\d+)/(\d+)", cidr)
    if not m:
        return None
    a, b, c, d, n = (int(x) for x in m.groups())
    first = ((a << 24) | (b << 16) | (c << 8) | d) & ~((1 << (32 - n)) - 1) & 0xFFFFFFFF
    return first, first | ((1 << (32 - n)) - 1)


def matched_rows(index: tokens.TokenIndex, keys: MatchKeys) -> dict[int, set[int]]:
    """Row number -> indexes of the indicators matching a token of that row."""
    hits: list[tuple[int, int]] = []  # (token id, indicator index)
    for (_, i), tids in zip(keys.exact, index.exact([t for t, _ in keys.exact]), strict=True):
        hits += [(t, i) for t in tids]
    for (_, i), tids in zip(
        keys.domains, index.within_domain([d for d, _ in keys.domains]), strict=True
    ):
        hits += [(t, i) for t in tids]
    for lo, hi, i in keys.cidr4:
        hits += [(t, i) for t in index.ip4_between(lo, hi)]
    if keys.cidr6:
        v6 = index.ip6_values()
        for lo, hi, i in keys.cidr6:
            hits += [(t, i) for value, t in v6 if lo <= value <= hi]
    found: dict[int, set[int]] = {}
    for tid, i in sorted(set(hits)):
        for rn in index.rows(tid):
            found.setdefault(rn, set()).add(i)
    return found


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


class _Connection:
    """A DuckDB connection made only when something needs one (a file-name scan, reading
    raw evidence): a hunt that reads only the token index never imports DuckDB."""

    def __init__(self, con: duckdb.DuckDBPyConnection | None) -> None:
        self.con, self._own = con, False

    def get(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            import duckdb

            self.con, self._own = duckdb.connect(), True
            self.con.execute("SET enable_progress_bar = false")
        return self.con

    def close(self) -> None:
        if self._own and self.con is not None:
            self.con.close()


def hunt(
    con: duckdb.DuckDBPyConnection | None,
    data_files: Sequence[Path],
    index_dir: Path,
    indicators: Sequence[Indicator],
    since: datetime | None = None,
    until: datetime | None = None,
    id_map: dict[str, list[str]] | None = None,
) -> list[Hit]:
    """Every (indicator, event) pair that matches within the window, as hits. `con` is used
    to build missing indexes and read raw evidence; None: a connection is made if needed."""
    keys = keys_for(indicators)
    lazy = _Connection(con)
    try:
        index = tokens.ensure(con, index_dir, list(data_files))
        hits: list[Hit] = []
        for ipath, data in index.items():
            with tokens.TokenIndex(ipath) as ti:
                found = matched_rows(ti, keys)
                if keys.scans:
                    _scan(lazy.get(), data, keys, found)
                hits += _to_hits(lazy, ti, str(data), found, indicators, since, until, id_map or {})
    finally:
        lazy.close()
    return sorted(hits, key=lambda h: (h.time, h.origin, h.indicator))


def _scan(
    con: duckdb.DuckDBPyConnection, data_file: Path, keys: MatchKeys, found: dict[int, set[int]]
) -> None:
    conds = " OR ".join(f"contains(low, {tokens._sql_str(v)})" for v, _ in keys.scans)
    rows = con.execute(
        f"SELECT rn, low FROM (SELECT file_row_number AS rn, lower(raw) AS low FROM"
        f" read_parquet({tokens._sql_str(str(data_file))}, file_row_number = true)) WHERE {conds}"
    ).fetchall()
    for rn, low in rows:
        for v, i in keys.scans:
            if v in low:
                found.setdefault(int(rn), set()).add(i)


# Reading `raw` costs as much as the whole file; the JSON path of a value found only in raw
# is worked out when the file is smaller than this (else the field is just "raw"; the origin
# still names the record). URL indicators always read raw: they are verified on it.
RAW_EVIDENCE_BYTES = 256 << 20


def _to_hits(
    lazy: _Connection,
    index: tokens.TokenIndex,
    fname: str,
    found: dict[int, set[int]],
    indicators: Sequence[Indicator],
    since: datetime | None,
    until: datetime | None,
    id_map: dict[str, list[str]],
) -> list[Hit]:
    """The hits of one event file: its rows' columns come from the index."""
    hits: list[Hit] = []
    pending: list[tuple[dict[str, Any], Indicator]] = []
    # [since, until) on epoch microseconds, as the store's time column compares
    lo = None if since is None else _epoch_us(since)
    hi = None if until is None else _epoch_us(until)
    for rn, values in index.events(list(found)).items():
        us = values[0]
        if us is None or (lo is not None and us < lo) or (hi is not None and us >= hi):
            continue
        ev = dict(zip(tokens.HIT_COLUMNS, values, strict=True))
        ev["rn"] = rn
        t = ev["time"] = datetime.fromtimestamp(us / 1e6, UTC)
        for i in sorted(found[rn]):
            ind = indicators[i]
            if not _in_window(ind, t):
                continue
            field = None if ind.type == "url" else _column_field(ev, ind)
            if field:
                hits.append(_hit(ev, ind, field, id_map))
            else:
                pending.append((ev, ind))
    if not pending:
        return hits
    small = int(index.meta.get("raw_bytes", 0)) <= RAW_EVIDENCE_BYTES
    raws: dict[int, str] = {}
    if small or any(ind.type == "url" for _, ind in pending):
        wanted = ", ".join(sorted({str(ev["rn"]) for ev, _ in pending}))
        src = f"read_parquet({tokens._sql_str(fname)}, file_row_number = true)"
        raws = dict(
            lazy.get()
            .execute(f"SELECT file_row_number, raw FROM {src} WHERE file_row_number IN ({wanted})")
            .fetchall()
        )
    for ev, ind in pending:
        raw = raws.get(ev["rn"])
        if ind.type == "url" and ind.value.lower() not in (raw or "").lower().replace("\\/", "/"):
            continue  # the host matched but not the whole URL
        ev = {**ev, "raw": raw}
        field = _raw_field(ev, ind) if raw is not None else "raw"
        hits.append(_hit(ev, ind, field, id_map))
    return hits


def _epoch_us(t: datetime) -> int:
    t = t if t.tzinfo else t.replace(tzinfo=UTC)
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@functools.lru_cache(maxsize=4096)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parsed once per indicator, not once per hit."""
    return ipaddress.ip_network(cidr, strict=False)


def _needle(ind: Indicator) -> str:
    return ind.value.lower() if ind.type != "asn" else f"as{int(ind.value)}"


def _column_field(ev: dict[str, Any], ind: Indicator) -> str | None:
    """The normalized column that explains the match, if one does (no need to read raw)."""
    if ind.type == "cidr":
        ip = ev.get("src_ip")
        if not ip:
            return None
        v4, bounds = tokens.ip4_value(str(ip)), _v4_range(ind.value)
        if v4 is not None and bounds is not None:  # the common case, without ipaddress
            return "src_ip" if bounds[0] <= v4 <= bounds[1] else None
        try:
            return "src_ip" if ipaddress.ip_address(str(ip)) in _network(ind.value) else None
        except ValueError:
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
    inv = ""
    if id_map:  # an empty inventory is common: no lookups then
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
