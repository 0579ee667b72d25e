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
    """Full-semantics check of one record against every indicator."""

    def __init__(self, indicators: Sequence[Indicator]) -> None:
        self.indicators = list(indicators)
        self.exact: dict[str, list[int]] = {}
        self.domains: dict[str, list[int]] = {}
        self.nets: dict[int, dict[int, list[int]]] = {}  # prefix length -> network int -> ids
        self.nets6: list[tuple[ipaddress.IPv6Network, int]] = []
        self.urls: list[tuple[str, int]] = []
        self.substrings: list[tuple[str, int]] = []
        for i, ind in enumerate(self.indicators):
            v = ind.value.lower()
            if ind.type == "cidr":
                net = ipaddress.ip_network(ind.value, strict=False)
                if isinstance(net, ipaddress.IPv4Network):
                    bucket = self.nets.setdefault(net.prefixlen, {})
                    bucket.setdefault(int(net.network_address), []).append(i)
                else:
                    self.nets6.append((net, i))
            elif ind.type == "domain":
                self.domains.setdefault(v, []).append(i)
            elif ind.type == "url":
                self.urls.append((v, i))
            elif ind.type == "file_name":
                self.substrings.append((v, i))
            elif ind.type == "asn":
                self.exact.setdefault(f"as{int(ind.value)}", []).append(i)
            else:
                self.exact.setdefault(v, []).append(i)

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

    def _by_token(self, tok: str) -> set[int]:
        found = set(self.exact.get(tok, ()))
        host = tok.rsplit("@", 1)[-1]
        parts = host.split(".")
        for n in range(len(parts)):
            found.update(self.domains.get(".".join(parts[n:]), ()))
        if self.nets or self.nets6:
            try:
                addr = ipaddress.ip_address(tok.split("/")[0])
            except ValueError:
                return found
            if isinstance(addr, ipaddress.IPv4Address):
                n4 = int(addr)
                for plen, bucket in self.nets.items():
                    found.update(bucket.get(n4 >> (32 - plen) << (32 - plen), ()))
            else:
                found.update(i for net, i in self.nets6 if addr in net)
        return found

    def match(self, line: str) -> dict[int, str]:
        """Indicator index -> where it matched, for one record (JSON or plain text)."""
        hits: dict[int, str] = {}
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        for path, value in _leaves(doc, "$") if doc is not None else [("line", line)]:
            low = value.lower()
            cands = {low, *_TOKEN.findall(low)}
            if isinstance(doc, dict) and path.lower().endswith(("asn", "asnumber")):
                cands.add(f"as{low}")
            for tok in cands:
                for i in self._by_token(tok):
                    hits.setdefault(i, path)
        low_line = line.lower().replace("\\/", "/")
        for url, i in self.urls:
            if url in low_line:
                hits.setdefault(i, "line")
        for sub, i in self.substrings:
            if sub in low_line:
                hits.setdefault(i, "line")
        return hits


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
    hits: list[RawHit] = []
    for path in paths:
        hits += _scan_file(db, path, matcher)
    return hits


def _collect(_id: int, _frm: int, to: int, _flags: int, ends: list[int]) -> None:
    ends.append(to)


def _scan_file(db: Any, path: Path, matcher: Matcher) -> list[RawHit]:
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
                ends: list[int] = []
                db.scan(chunk, match_event_handler=_collect, context=ends)
                line_starts = sorted({chunk.rfind(b"\n", 0, e) + 1 for e in ends})
                counted, pos = line_no, 0
                for ls in line_starts:
                    counted += chunk.count(b"\n", pos, ls)
                    pos = ls
                    le = chunk.find(b"\n", ls)
                    text = chunk[ls : le if le >= 0 else len(chunk)].decode("utf-8", "replace")
                    for i, where in matcher.match(text).items():
                        out.append(RawHit(str(path), counted, matcher.indicators[i], where))
                line_no += chunk.count(b"\n")
                start = end
        finally:
            mm.close()
    return out
