"""Decoders: secrets hidden in base64 blobs, URL-encoding, JSON escapes and quoted-printable.

Each decoder has a trigger pattern (run in the same Hyperscan pass as the rules) that marks
where encoded text is; the region is decoded and scanned again with up to 200 bytes of the
text before it, so a key name outside the blob still anchors a keyword rule.
"""

from __future__ import annotations

import binascii
import quopri
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyreaper.scan.engine import Budget

CONTEXT = 200  # bytes of the parent view kept before a decoded region
MAX_REGION = 4 << 20  # largest region decoded at once
MAX_VIEWS = 2_000  # decoded views per buffer

TRIGGERS: list[tuple[str, bytes]] = [
    ("base64", rb"[A-Za-z0-9+/]{28,}(?:={1,2}|[^A-Za-z0-9+/=]|\Z)"),
    ("url", rb"%(?:2[0-9A-F]|3[A-F]|40|5[BCD]|0[AD]|7[BD])"),
    # escaped JSON inside JSON: an escaped key followed by a colon, or \u00XX / \/ escapes;
    # a key line after an escaped newline, an escaped quote opening a secret-named key's value
    # (`password=\\"...`; not every `=\\"`: botocore's docs are full of href=\\")
    (
        "json",
        rb"\\u00[0-9A-F]{2}|\\/|\\\"[A-Za-z0-9_.-]{1,40}\\\"[ \t]*:"
        rb"|\\n[ \t-]*[A-Za-z_][A-Za-z0-9_.]{0,60}[ \t]*(?:=|-|:[ \t\\])"
        rb"|(?:pass|secret|token|key|pwd)[A-Za-z0-9_]{0,30}[ \t]*[=:][ \t]*\\\"",
        # (a JSON value that is itself a KEY=value line is not a trigger: `":` starts every
        # value, and Hyperscan spent a third more time on botocore's JSON with it)
    ),
    ("quoted-printable", rb"content-transfer-encoding:[ \t]*quoted-printable"),
]
_RE_TRIGGERS = [(n, re.compile(p, re.IGNORECASE)) for n, p in TRIGGERS]


def _hs_base64() -> bytes:
    """The base64 trigger for Hyperscan: only runs of 28+ that hold a digit, + or / (base64
    of text always does; long identifiers, a fifth of all runs in code and JSON, do not).
    Written as the run's end: the last such character followed by j letters, with 27 - j
    more run characters before it (or any number when j >= 27)."""
    x, d, a = b"[A-Za-z0-9+/]", b"[0-9+/]", b"[A-Za-z]"
    alts = [d + a + b"{27,}"] + [
        x + b"{%d}" % (27 - j) + d + (a + b"{%d}" % j if j else b"") for j in range(27)
    ]
    return b"(?:" + b"|".join(alts) + rb")(?:={1,2}|[^A-Za-z0-9+/=]|\Z)"


HS_TRIGGERS = [(n, _hs_base64() if n == "base64" else p) for n, p in TRIGGERS]
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_HEX = re.compile(rb"[0-9a-fA-F]+")
_URL_RUN_BACK = re.compile(rb"[^\s\"'<>`]*")  # matched on reversed bytes
_URL_RUN = re.compile(rb"[^\s\"'<>`]*")
_JSON_ESC = re.compile(rb"\\(u[0-9a-fA-F]{4}|[\"\\/bfnrt])")
_SIMPLE = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n",
           b"r": b"\r", b"t": b"\t"}  # fmt: skip


@dataclass(frozen=True)
class View:
    data: bytes
    prefix: int  # bytes of parent context at the start of `data`
    origin: int  # offset in the parent where the decoded region starts
    encoding: str
    end: int = -1  # offset in the parent where it ends

    def parent_span(self, start: int, end: int) -> tuple[int, int]:
        """Where a match in the decoded text lies in the parent, scaled (base64 is 4:3)."""
        size = max(len(self.data) - self.prefix, 1)
        width = max((self.end if self.end > self.origin else self.origin + size) - self.origin, 1)
        a = self.origin + (start - self.prefix) * width // size
        b = self.origin + max((end - self.prefix) * width // size, a - self.origin + 1)
        return a, max(b, a + 1)


def find_triggers(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """The pure-`re` equivalent of the Hyperscan trigger hits (fallback path)."""
    return {n: [(m.start(), m.end()) for m in p.finditer(data)] for n, p in _RE_TRIGGERS}


_WHITESPACE = {9: None, 10: None, 13: None}


def _printable_text(raw: bytes) -> bool:
    if len(raw) < 8:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if text.translate(_WHITESPACE).isprintable():
        return True  # the common case, checked in C
    bad = sum(1 for c in text if not (c.isprintable() or c in "\r\n\t"))
    return bad * 20 <= len(text)


def _with_context(data: bytes, start: int, end: int, decoded: bytes, name: str) -> View:
    # a line break between the context and the decoded text: line-anchored rules see the
    # decoded text as lines of its own; key/value rules still bridge it as a separator
    before = data[max(0, start - CONTEXT) : start] + b"\n"
    return View(before + decoded, len(before), start, name, end)


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _run_start(data: bytes, end: int) -> int:
    """Where the base64 run ending at `end` starts (padding `=` only at its end). The trigger
    has no start-of-match (asking Hyperscan for one halves its speed); bytes.rstrip finds it
    in C, widening the look-back only for long runs."""
    for span in (160, 4096, MAX_REGION):
        lo = max(0, end - span)
        chunk = data[lo:end].rstrip(b"=")
        start = lo + len(chunk.rstrip(_B64_ALPHABET))
        if start > lo or lo == 0:
            return start
    return max(0, end - MAX_REGION)


def _base64(data: bytes, hits: list[tuple[int, int]]) -> Iterator[View]:
    seen = -1
    for end in sorted({h[1] for h in hits}):
        if end <= seen:
            continue
        stop = end if end and data[end - 1] in _B64_CHARS else end - 1
        start = _run_start(data, stop)
        if start < seen or stop - start < 28:
            continue
        if data[start:stop].rstrip(b"=").isalpha():
            seen = stop
            continue  # identifiers: base64 of text has digits or +/ (checked in C first)
        m = _B64_RUN.match(data, start, start + MAX_REGION)
        if not m:
            continue
        seen = m.end()
        blob = m.group(0)
        if _HEX.fullmatch(blob):
            continue  # hex digests
        try:
            raw = binascii.a2b_base64(blob + b"=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            continue
        if _printable_text(raw):
            yield _with_context(data, start, m.end(), raw, "base64")


def _url(data: bytes, hits: list[tuple[int, int]]) -> Iterator[View]:
    seen = -1
    for start, _end in sorted(hits):
        if start < seen:
            continue
        # where the run ending here starts: matched forward on the reversed bytes (a search
        # for a run ending at the hit would retry from every offset of the 4 KiB before it)
        lo = max(0, start - 4096)
        back = _URL_RUN_BACK.match(data[lo:start][::-1])
        run_start = start - (back.end() if back else 0)
        fwd = _URL_RUN.match(data, start, start + 4096)
        run_end = fwd.end() if fwd else start
        seen = run_end
        # query parameters become lines, decoded one by one (a %26 inside stays in its value)
        parts = re.split(rb"[?&]", data[run_start:run_end])
        decoded = b"\n".join(_url_lines(p) for p in parts)
        yield _with_context(data, run_start, run_end, decoded, "url")


def _url_lines(part: bytes) -> bytes:
    """A decoded query parameter; a value that is itself an assignment (`cfg=export
    API_SECRET%3D...`) is repeated on a line of its own, so line-anchored rules see it."""
    text = urllib.parse.unquote_to_bytes(part)
    _name, eq, value = text.partition(b"=")
    if eq and _ASSIGNMENT.match(value):
        return text + b"\n" + value
    return text


_ASSIGNMENT = re.compile(rb"[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.-]{0,60}[ \t]*(?:=|:[ \t])")
# A JSON string value (after its key's colon), escapes and all.
_JSON_VALUE = re.compile(rb'(:[ \t]*")((?:[^"\\\n]|\\.){1,65536}+)(")')


def _json_unescape(raw: bytes) -> bytes:
    def sub(m: re.Match[bytes]) -> bytes:
        esc = m.group(1)
        if esc[:1] == b"u":
            # a lone surrogate (\ud800) has no UTF-8 form: kept as bytes, never an error
            return chr(int(esc[1:], 16)).encode("utf-8", "surrogatepass")
        return _SIMPLE[esc]

    return _JSON_ESC.sub(sub, raw)


def _json(data: bytes, hits: list[tuple[int, int]]) -> Iterator[View]:
    seen = -1
    for start, _end in sorted(hits):
        if start < seen:
            continue
        line_start = data.rfind(b"\n", max(0, start - 65536), start) + 1
        line_end = data.find(b"\n", start, start + 65536)
        if line_end == -1:
            line_end = min(len(data), start + 65536)
        seen = line_end
        yield View(_json_line(data[line_start:line_end]), 0, line_start, "json", line_end)


def _json_line(line: bytes) -> bytes:
    """The line unescaped, each JSON string value on lines of its own: a value that is a
    config file (`"config": "users:\\n  token: ..."`) reads as one to line-anchored rules."""

    def value(m: re.Match[bytes]) -> bytes:
        return m.group(1) + b"\n" + _json_unescape(m.group(2)) + b"\n" + m.group(3)

    split = _JSON_VALUE.sub(value, line)
    return split if split != line else _json_unescape(line)


def _qp(data: bytes, hits: list[tuple[int, int]]) -> Iterator[View]:
    if hits:
        start = min(s for s, _ in hits)
        end = min(len(data), start + MAX_REGION)
        yield View(quopri.decodestring(data[start:end]), 0, start, "quoted-printable", end)


_DECODERS = {"base64": _base64, "url": _url, "json": _json, "quoted-printable": _qp}


def views(
    data: bytes, triggers: dict[str, list[tuple[int, int]]], budget: Budget
) -> Iterator[View]:
    count = 0
    for name, hits in triggers.items():
        for view in _DECODERS[name](data, hits):
            if view.data[view.prefix :] == data:
                continue
            count += 1
            if count > MAX_VIEWS:
                budget.partial.append(f"more than {MAX_VIEWS} encoded regions; rest skipped")
                return
            if budget.expired():
                return
            yield view
