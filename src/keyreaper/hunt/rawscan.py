"""Hunt indicators straight in JSON-lines log files, before (or without) ingesting them.

Two stages. A literal prefilter (Hyperscan, every indicator as a case-insensitive literal; a
CIDR as the text prefixes of its octet-aligned sub-networks) finds the few lines that could
match. Each candidate line is then parsed and every value in it checked with the full
semantics (exact IPs, CIDR ranges, domain suffixes, e-mail domains, URLs, user agents, hashes,
key ids), so the answer is the same as on the store, and covers every field.
"""

from __future__ import annotations

import ipaddress
import json
import mmap
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyreaper.domain.model import Indicator
from keyreaper.extras import require
from keyreaper.hunt.tokens import TOKEN_PATTERN

_TOKEN = re.compile(TOKEN_PATTERN)
CHUNK = 64 << 20


@dataclass(frozen=True)
class RawHit:
    path: str
    line: int
    indicator: Indicator
    field: str  # JSON path of the value that matched, or "line"


class Matcher:
    """Full-semantics check of one record against the indicators the prefilter named."""

    def __init__(self, indicators: Sequence[Indicator]) -> None:
        self.indicators = list(indicators)
        # CIDRs are parsed once here rather than per candidate line.
        self.nets = {
            i: ipaddress.ip_network(ind.value, strict=False)
            for i, ind in enumerate(self.indicators)
            if ind.type == "cidr"
        }

    def literals(self) -> list[tuple[bytes, int]]:
        """(literal, indicator index) for the prefilter."""
        out: list[tuple[bytes, int]] = []
        for i, ind in enumerate(self.indicators):
            v = ind.value.lower()
            if ind.type == "cidr":
                out += [(p.encode(), i) for p in _cidr_prefixes(ind.value)]
            elif ind.type == "url":
                out.append((v.split("://", 1)[-1].split("/", 1)[0].encode(), i))
            elif ind.type == "asn":
                out.append((ind.value.encode(), i))
            else:
                out.append((v.encode(), i))
        return out

    def check(self, line: str, wanted: set[int]) -> dict[int, str]:
        """Indicator index -> where it matched, for the indicators whose literal occurred in
        this line (the prefilter's candidates); checks only those, with full semantics."""
        low = line.lower()
        toks = set(_TOKEN.findall(low))
        hosts = {t.rsplit("@", 1)[-1] for t in toks if "." in t}
        doc: Any = None
        hits: dict[int, str] = {}
        for i in wanted:
            ind = self.indicators[i]
            v = ind.value.lower()
            t = ind.type
            if t == "cidr":
                needle = next((x for x in toks if _in_net(x, self.nets[i])), None)
            elif t == "domain":
                needle = next((h for h in hosts if h == v or h.endswith("." + v)), None)
            elif t in ("url", "file_name"):
                needle = v if v in low.replace("\\/", "/") else None
            elif t in ("user_agent", "asn"):
                if doc is None:
                    doc = _parse(line)
                want = v if t == "user_agent" else ind.value
                needle = next((val.lower() for p, val in _leaves(doc, "$") if val.lower() == want
                               and (t != "asn" or p.lower().endswith(("asn", "asnumber")))), None)  # fmt: skip
            else:
                needle = v if v in toks else None
            if needle is not None:
                if doc is None:
                    doc = _parse(line)
                hits[i] = _where(doc, needle)
        return hits


def _parse(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return line


def _in_net(tok: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if not tok[:1].isdigit() and ":" not in tok:
        return False
    try:
        return ipaddress.ip_address(tok.split("/")[0]) in net
    except ValueError:
        return False


def _where(doc: Any, needle: str) -> str:
    if isinstance(doc, str):
        return "line"
    return next((p for p, val in _leaves(doc, "$") if needle in val.lower()), "line")


def _leaves(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(node, list):
        for n, v in enumerate(node):
            yield from _leaves(v, f"{path}[{n}]")
    elif node is not None and not isinstance(node, bool):
        yield path, str(node)


def _cidr_prefixes(cidr: str) -> list[str]:
    """Text prefixes covering an IPv4 CIDR at octet boundaries ('10.1.2.' for a /24)."""
    net = ipaddress.ip_network(cidr, strict=False)
    if not isinstance(net, ipaddress.IPv4Network):
        hextets = net.network_address.exploded.split(":")[: max(1, net.prefixlen // 16)]
        return [":".join(h.lstrip("0") or "0" for h in hextets) + ":"]
    octets = max(1, min(3, net.prefixlen // 8 + (1 if net.prefixlen % 8 else 0)))
    if net.prefixlen < 16:
        octets = 2  # an 'a.' prefix would match nearly every line; /16 pieces instead
    subnets = net.subnets(new_prefix=octets * 8) if net.prefixlen < octets * 8 else [net]
    return [".".join(str(s.network_address).split(".")[:octets]) + "." for s in subnets]


def scan(paths: Sequence[Path], indicators: Sequence[Indicator]) -> list[RawHit]:
    """Every (line, indicator) match in the files."""
    matcher = Matcher(indicators)
    lits = matcher.literals()
    if not lits:
        return []
    hs = require("hyperscan", "scan")
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(
        expressions=[lit for lit, _ in lits],
        ids=list(range(len(lits))),
        elements=len(lits),
        flags=hs.HS_FLAG_CASELESS,
        literal=True,
    )
    owner = [i for _, i in lits]
    hits: list[RawHit] = []
    for path in paths:
        hits += _scan_file(db, path, matcher, owner)
    return hits


def _collect(lit_id: int, _frm: int, to: int, _flags: int, ends: list[tuple[int, int]]) -> None:
    ends.append((lit_id, to))


def _scan_file(db: Any, path: Path, matcher: Matcher, owner: list[int]) -> list[RawHit]:
    out: list[RawHit] = []
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        if not size:
            return out
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            start, line_no = 0, 1
            while start < size:
                end = min(size, start + CHUNK)
                if end < size:
                    nl = mm.rfind(b"\n", start, end)
                    end = nl + 1 if nl > start else mm.find(b"\n", end) + 1 or size
                chunk = mm[start:end]
                ends: list[tuple[int, int]] = []
                db.scan(chunk, match_event_handler=_collect, context=ends)
                by_line: dict[int, set[int]] = {}
                for lit_id, e in ends:
                    by_line.setdefault(chunk.rfind(b"\n", 0, e) + 1, set()).add(owner[lit_id])
                line_starts = sorted(by_line)
                counted, pos = line_no, 0
                for ls in line_starts:
                    counted += chunk.count(b"\n", pos, ls)
                    pos = ls
                    le = chunk.find(b"\n", ls)
                    text = chunk[ls : le if le >= 0 else len(chunk)].decode("utf-8", "replace")
                    for i, where in matcher.check(text, by_line[ls]).items():
                        out.append(RawHit(str(path), counted, matcher.indicators[i], where))
                line_no += chunk.count(b"\n")
                start = end
        finally:
            mm.close()
    return out
