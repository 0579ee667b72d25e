"""Hunt indicators straight in JSON-lines log files, before (or without) ingesting them.

Two stages. A literal prefilter (Hyperscan, every indicator as a case-insensitive literal; a
CIDR as the text prefixes of its octet-aligned sub-networks) finds the few lines that could
match. Each candidate line is then parsed and every value in it checked with the full
semantics (exact IPs, CIDR ranges, domain suffixes, e-mail domains, URLs, user agents, hashes,
key ids), so the answer is the same as on the store, and covers every field.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import mmap
import os
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyreaper.domain.model import Indicator
from keyreaper.extras import require

# Cheap, single-purpose patterns for candidate lines (the full token pattern is slow in re).
_IP = re.compile(
    r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]\d)|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}"
)
_HOST = re.compile(r"(?:[a-z0-9_-]+\.)+[a-z][a-z0-9-]+")
CHUNK = 32 << 20
WORKERS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class RawHit:
    path: str
    offset: int  # byte offset of the line in the file
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
        doc: Any = None
        hits: dict[int, str] = {}
        for i in wanted:
            ind = self.indicators[i]
            v = ind.value.lower()
            t = ind.type
            if t == "cidr":
                needle = next((x for x in _IP.findall(low) if _in_net(x, self.nets[i])), None)
            elif t == "domain":
                needle = next(
                    (h for h in _HOST.findall(low) if h == v or h.endswith("." + v)), None
                )
            elif t in ("url", "file_name"):
                needle = v if v in low.replace("\\/", "/") else None
            elif t in ("user_agent", "asn"):
                if doc is None:
                    doc = _parse(line)
                want = v if t == "user_agent" else ind.value
                needle = next((val.lower() for p, val in _leaves(doc, "$") if val.lower() == want
                               and (t != "asn" or p.lower().endswith(("asn", "asnumber")))), None)  # fmt: skip
            else:  # a whole token: not inside a longer address, name or hash
                m = re.search(r"(?<![\w.@:-])" + re.escape(v) + r"(?![\w@:-]|\.\w)", low)
                needle = v if m else None
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


def _v6_prefixes(net: ipaddress.IPv6Network) -> list[str]:
    """The whole leading groups of the prefix, up to a zero group ('::' may stand for it in
    the log: 2001:db8:0::/48 holds 2001:db8::5), in the canonical and the zero-padded form;
    a partial first group is spelled out when it has few values."""
    groups = net.network_address.exploded.split(":")
    whole = groups[: net.prefixlen // 16]
    if "0000" in whole:
        whole = whole[: whole.index("0000")]
    if whole:
        forms = {":".join(g.lstrip("0") for g in whole), ":".join(whole)}
        return sorted(f + ":" for f in forms)
    first = int(groups[0], 16)
    if first == 0:
        return ["::", "0:"]  # '0:' also occurs in times: a loose but correct prefilter
    span = 1 << (16 - net.prefixlen) if net.prefixlen < 16 else 1
    if span > 256:
        return [":"]  # every line with an IPv6 address is a candidate
    return [f"{v:x}:" for v in range(first, first + span)]


def _cidr_prefixes(cidr: str) -> list[str]:
    """Text prefixes covering a CIDR: an IPv4 one at octet boundaries ('10.1.2.' for a /24),
    an IPv6 one by its leading groups."""
    net = ipaddress.ip_network(cidr, strict=False)
    if not isinstance(net, ipaddress.IPv4Network):
        return _v6_prefixes(net)
    octets = max(1, min(3, net.prefixlen // 8 + (1 if net.prefixlen % 8 else 0)))
    if net.prefixlen < 16:
        octets = 2  # an 'a.' prefix would match nearly every line; /16 pieces instead
    subnets = net.subnets(new_prefix=octets * 8) if net.prefixlen < octets * 8 else [net]
    return [".".join(str(s.network_address).split(".")[:octets]) + "." for s in subnets]


def compile_literals(lits: Sequence[bytes], cache_dir: Path | None = None) -> Any:
    """A Hyperscan database of the literals (caseless only where letters occur: digits-only
    literals scan faster exactly). Compiling 10k literals takes about a second, so the
    serialized database is kept in `cache_dir` under the hash of the literal set."""
    hs = require("hyperscan", "hunt")
    key = hashlib.sha256(b"\0".join(lits)).hexdigest()[:24]
    cached = cache_dir / f"hs-{key}.db" if cache_dir else None
    if cached and cached.exists():
        try:
            db = hs.loadb(cached.read_bytes(), mode=hs.HS_MODE_BLOCK)
            db.scratch = hs.Scratch(db)  # a loaded database comes without scratch space
            return db
        except Exception:  # a stale or foreign file: compile again  # noqa: S110
            pass
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(
        expressions=list(lits),
        ids=list(range(len(lits))),
        elements=len(lits),
        flags=[hs.HS_FLAG_CASELESS if re.search(rb"[a-zA-Z]", lit) else 0 for lit in lits],
        literal=True,
    )
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = cached.with_name(f".{cached.name}.tmp")
        tmp.write_bytes(hs.dumpb(db))
        os.replace(tmp, cached)
    return db


def scan(
    paths: Sequence[Path], indicators: Sequence[Indicator], cache_dir: Path | None = None
) -> list[RawHit]:
    """Every (line, indicator) match in the files."""
    matcher = Matcher(indicators)
    lits = matcher.literals()
    if not lits:
        return []
    db = compile_literals([lit for lit, _ in lits], cache_dir)
    owner = [i for _, i in lits]
    hits: list[RawHit] = []
    for path in paths:
        hits += _scan_file(db, path, matcher, owner)
    return hits


def _collect(lit_id: int, _frm: int, to: int, _flags: int, ends: list[tuple[int, int]]) -> None:
    ends.append((lit_id, to))


def _blocks(mm: mmap.mmap) -> Iterator[tuple[int, int]]:
    """(start, end) of blocks of about CHUNK bytes, each ending after a newline."""
    size, start = len(mm), 0
    while start < size:
        end = min(size, start + CHUNK)
        if end < size:
            nl = mm.rfind(b"\n", start, end)
            end = nl + 1 if nl >= start else (mm.find(b"\n", end) + 1 or size)
        yield start, end
        start = end


def _scan_block(db: Any, local: threading.local, data: memoryview) -> list[tuple[int, int]]:
    """Runs in a worker thread: Hyperscan releases the GIL, so blocks scan in parallel."""
    hs = require("hyperscan", "hunt")
    if not hasattr(local, "scratch"):
        local.scratch = hs.Scratch(db)
    ends: list[tuple[int, int]] = []
    db.scan(data, match_event_handler=_collect, context=ends, scratch=local.scratch)
    return ends


def _scan_file(db: Any, path: Path, matcher: Matcher, owner: list[int]) -> list[RawHit]:
    """The file is mapped, not read (no copies); blocks scan in parallel threads while
    candidate lines are checked here in file order. Hits name their line by its byte offset
    (`file@offset`), which costs nothing to know, unlike a line number."""
    out: list[RawHit] = []
    if path.stat().st_size == 0:
        return out
    local = threading.local()
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        mm.madvise(mmap.MADV_SEQUENTIAL)
        view = memoryview(mm)
        try:
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                futures = [
                    (start, end, pool.submit(_scan_block, db, local, view[start:end]))
                    for start, end in _blocks(mm)
                ]
                for start, end, fut in futures:
                    by_line: dict[int, set[int]] = {}
                    for lit_id, e in fut.result():
                        line = mm.rfind(b"\n", start, start + e) + 1 or start
                        by_line.setdefault(max(line, start), set()).add(owner[lit_id])
                    for ls, wanted in sorted(by_line.items()):
                        le = mm.find(b"\n", ls, end)
                        text = mm[ls : le if le >= 0 else end].decode("utf-8", "replace")
                        for i, where in matcher.check(text, wanted).items():
                            out.append(RawHit(str(path), ls, matcher.indicators[i], where))
        finally:
            view.release()
    return out
