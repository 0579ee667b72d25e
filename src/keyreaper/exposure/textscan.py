"""name=value pairs inside text (JSON, form bodies, HTML inputs, multipart), found fast.

Python's `re` crawls through a 40-name case-insensitive alternation (about 10 MB/s on JSON),
so when hyperscan is installed (the `scan` extra) it finds candidate places first, at GB/s,
and `re` then reads only a window around each. Without hyperscan, or for non-ASCII text where
byte and character offsets differ, `re` reads the whole text: slower, same results.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus

from keyreaper.exposure.names import (
    CLOUDFLARE_WORDS,
    IDENT_PARAMS,
    SANITIZE_NORM,
    SECRET_PARAMS,
    norm,
)


def _alternation(names: set[str]) -> str:
    """access_token also matches accessToken and access-token (with re.IGNORECASE)."""
    pats = {"[-_]?".join(re.escape(w) for w in re.split(r"[-_]", n)) for n in names}
    return "|".join(sorted(pats, key=len, reverse=True))


_ALL_NAMES = set(SECRET_PARAMS) | set(IDENT_PARAMS) | {w.lower() for w in CLOUDFLARE_WORDS}
NAMES = _alternation(_ALL_NAMES)
_VALUE = r"((?:[^\"\\]|\\.){1,65536})"
_JSON_PAIR = re.compile(rf'"(?=[A-Za-z][A-Za-z_-]{{1,30}}"\s*:)(?i:({NAMES}))"\s*:\s*"{_VALUE}"')
_TEXT_VALUE = re.compile(r"=([^&\s\"'<>;,]{1,65536})")
_WORD_END = re.compile(r"[A-Za-z0-9_.-]+$")
_MULTIPART = re.compile(rf'name="({NAMES})"[^\r\n]*\r?\n\r?\n([^\r\n]{{1,65536}})', re.IGNORECASE)
_INPUT = re.compile(r"<input\b[^>]{0,4000}>", re.IGNORECASE)
_ATTR_NAME = re.compile(r"""\bname\s*=\s*["']([^"']{1,100})["']""", re.IGNORECASE)
_ATTR_VALUE = re.compile(r"""\bvalue\s*=\s*["']([^"']{1,65536})["']""", re.IGNORECASE)

# hyperscan prefilter: where a pair may start. Windows reach back for the name and forward
# for the longest value we read.
_BACK, _AHEAD = 200, 66000
_HS_PATTERNS = [
    rf'"(?:{NAMES})"\s*:\s*"',
    rf"(?:{NAMES})=",
    rf'name="(?:{NAMES})"',
    r"<input\b",
]


def _hyperscan_db() -> Any:
    try:
        import hyperscan
    except ImportError:  # the scan extra is optional; `re` alone gives the same results
        return None
    db = hyperscan.Database()
    db.compile(
        expressions=[p.encode() for p in _HS_PATTERNS],
        ids=list(range(len(_HS_PATTERNS))),
        elements=len(_HS_PATTERNS),
        flags=[hyperscan.HS_FLAG_CASELESS] * len(_HS_PATTERNS),
    )
    return db


_HS: Any = _hyperscan_db()
_HS_STOPPED: Any = type(None)
if _HS is not None:
    import hyperscan as _hyperscan

    _HS_STOPPED = _hyperscan.ScanTerminated


def use_hyperscan(enabled: bool) -> None:
    """Switch the prefilter off (tests check both paths give the same results)."""
    global _HS
    _HS = _hyperscan_db() if enabled else None


def may_have_pairs(data: bytes) -> bool:
    """False only when the prefilter is sure no pair is in `data` (so it need not be decoded)."""
    if _HS is None:
        return True
    found: list[int] = []

    def stop(_i: int, _f: int, _t: int, _fl: int, _c: object) -> bool:
        found.append(1)
        return True  # one is enough: stop scanning

    with contextlib.suppress(_HS_STOPPED):  # how hyperscan reports the stop asked for
        _HS.scan(data, match_event_handler=stop)
    return bool(found)


def _windows(text: str) -> list[tuple[int, int]]:
    """Spans of `text` worth reading with `re`; the whole text when no prefilter applies."""
    if _HS is None or not text.isascii():
        return [(0, len(text))]
    ends: list[int] = []
    _HS.scan(text.encode("ascii"), match_event_handler=lambda _i, _f, to, _fl, _c: ends.append(to))
    if not ends:
        return []
    ends.sort()
    spans: list[tuple[int, int]] = []
    for end in ends:
        start, stop = max(0, end - _BACK), min(len(text), end + _AHEAD)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], stop))
        else:
            spans.append((start, stop))
    return spans


@dataclass(frozen=True, slots=True)
class Pair:
    """A name=value found in text; `value` is decoded, start/end span the raw value."""

    name: str
    value: str
    start: int
    end: int


def _json_unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


def text_pairs(text: str, form: bool = False) -> Iterator[Pair]:
    """Every name=value pair with a name from any of our lists, in any of the usual syntaxes."""
    seen: set[int] = set()
    for lo, hi in _windows(text):
        for pair in _pairs_in(text, lo, hi, form):
            if pair.start not in seen:
                seen.add(pair.start)
                yield pair


def _pairs_in(text: str, lo: int, hi: int, form: bool) -> Iterator[Pair]:
    if text.find('"', lo, hi) >= 0:
        for m in _JSON_PAIR.finditer(text, lo, hi):
            yield Pair(m.group(1), _json_unescape(m.group(2)), m.start(2), m.end(2))
    if text.find("=", lo, hi) >= 0:
        decode = unquote_plus if form else unquote
        for m in _TEXT_VALUE.finditer(text, lo, hi):
            eq = m.start()
            word = _WORD_END.search(text, max(lo, eq - 60), eq)
            if word is None:
                continue
            # a name is a whole word: "barcode=" is not "code=", nor is "a.code="
            name = word.group(0)
            if "." in name or norm(name) not in SANITIZE_NORM:
                continue
            yield Pair(name, decode(m.group(1)), m.start(1), m.end(1))
        if text.find("name=", lo, hi) >= 0 or text.find("NAME=", lo, hi) >= 0:
            for m in _MULTIPART.finditer(text, lo, hi):
                yield Pair(m.group(1), m.group(2), m.start(2), m.end(2))
    if text.find("<input", lo, hi) >= 0 or text.find("<INPUT", lo, hi) >= 0:
        for tag in _INPUT.finditer(text, lo, hi):
            attr = _ATTR_NAME.search(tag.group(0))
            val = _ATTR_VALUE.search(tag.group(0))
            if attr and val and norm(attr.group(1)) in SANITIZE_NORM:
                base = tag.start()
                yield Pair(attr.group(1), val.group(1), base + val.start(1), base + val.end(1))
