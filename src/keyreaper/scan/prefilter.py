"""Prefilter planning for Hyperscan: which expression stands for each rule, how far around a
hit the exact regex must look, and the compiled database cached on disk."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keyreaper.scan.rules import SEP

_hs: Any
try:  # pragma: no cover
    import hyperscan as _hs
except ImportError:  # pragma: no cover
    _hs = None

TAIL = 256  # bytes after a hit the exact regex may still need (lookaheads, suffixes)
SPLIT_FORWARD = 1500  # after a key name, the separator and the value

NO_PLAN = (b"", 0, 0, -1)
MIN_BRANCH = 4  # characters a cut branch prefilter must match at least


def hs_pattern(pattern: str, cut: bool = True) -> tuple[bytes, int, int, int]:
    """The prefilter expression for Hyperscan and how far past its hits the secret may end.

    A key-name/separator/value rule is cut at the separator: Hyperscan finds the key name and
    the exact regex looks further ahead (the separator compiles slowly and adds nothing as a
    filter). A cut inside a top-level alternation would lose branches: keywords then."""
    forward = TAIL
    full = pattern
    if not cut:  # prefilter = "full": the whole pattern filters best (a bare prefix is common)
        return re.sub(r"\(\?P<[a-z0-9_]+>", "(", pattern).encode(), forward, 0, -1
    if SEP in pattern:
        if top_level_alternation(pattern):
            return NO_PLAN
        pattern = pattern[: pattern.index(SEP)]
        forward = SPLIT_FORWARD
    short = "" if top_level_alternation(pattern) else cut_at_long_repeat(pattern)
    if short:
        pattern, forward = short, max(forward, SPLIT_FORWARD)
    # Hyperscan has no named groups; plain groups mean the same to it.
    expr = re.sub(r"\(\?P<[a-z0-9_]+>", "(", pattern)
    min_w, max_w = 0, -1
    if pattern != full:
        min_w, max_w = _width(expr)
    return expr.encode(), forward, min_w, max_w


def _width(expr: str) -> tuple[int, int]:
    """Shortest and longest text a prefilter expression matches; (0, -1) if unbounded."""
    # Whitespace runs are counted as at most 16 characters: an assignment with more spaces
    # than that around its `=` is not one a person wrote.
    bounded = re.sub(r"(?<!\\)\*", "{0,16}", re.sub(r"(?<![\\])\+(?![?])", "{1,16}", expr))
    try:
        lo, hi = re._parser.parse(bounded).getwidth()  # type: ignore[attr-defined]
    except (re.error, AttributeError):
        return 0, -1
    return (int(lo), int(hi)) if hi < 4096 else (0, -1)


_LONG_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}|[+*]")


def cut_at_long_repeat(pattern: str) -> str:
    """The pattern up to its first long run of a character class (`[A-Za-z0-9]{36}`), with
    open groups closed; '' when that would not be a superset (an alternation or a quantified
    group is open) or too little literal text is left to filter on.

    Hyperscan reports every end offset of a run, so a 300-character token run would call
    back 300 times; cut there, it calls back once per prefix and the exact regex reads on."""
    stack: list[int] = []  # start index of each open group
    literals = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        atom_end = i + 1
        if c == "\\":
            atom_end = i + 2
            literals += pattern[i + 1 : i + 2] in "-./:_@"
        elif c == "[":
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            j += pattern[j : j + 1] == "]"
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            atom_end = j + 1
            m = _LONG_REPEAT.match(pattern, atom_end)
            if m and (
                m.group(0) in "+*" or int(m.group(3) or m.group(1) or 0) >= 12 or m.group(2) == ","
            ):
                safe = not any(_alternates(pattern, g) or _quantified(pattern, g) for g in stack)
                cut = pattern[:i] + ")" * len(stack)
                if safe and literals >= 3 and _selective(cut):
                    return cut
        elif c == "(":
            stack.append(i)
        elif c == ")":
            if stack:
                stack.pop()
        elif c == "|":
            if not stack:
                return ""
        elif c.isalnum() or c in "-_:=":
            literals += 1
        i = atom_end
    return ""


def _syntax(pattern: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """Index, character and depth of each parenthesis and `|` outside escapes and character
    classes; depth counts the groups open around the character (a group's own parentheses
    are at the depth outside it)."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c in "(|)":
            depth -= c == ")"
            yield i, c, depth
            depth += c == "("
        i += 1


def _group_end(pattern: str, start: int) -> int:
    for i, c, depth in _syntax(pattern, start):
        if c == ")" and depth == 0:
            return i
    return len(pattern)


def _alternates(pattern: str, start: int) -> bool:
    """Whether the group opening at `start` has a | of its own."""
    inner = pattern[start + 1 : _group_end(pattern, start)]
    inner = re.sub(r"^\?(?:P<[^>]+>|[:=!]|<[=!]|[a-zA-Z]+:)", "", inner)
    return top_level_alternation(inner)


_PROBES = ("", "a", "x = 1\n", "hello world\n", "    return self._value\n", "key = value\n")


def _selective(expr: str) -> bool:
    """A cut prefilter must still need something specific: no match on ordinary text."""
    try:
        rx = re.compile(re.sub(r"\(\?P<[a-z0-9_]+>", "(", expr))
    except re.error:
        return False
    return not any(rx.search(p) for p in _PROBES)


def _quantified(pattern: str, start: int) -> bool:
    end = _group_end(pattern, start)
    return pattern[end + 1 : end + 2] in ("?", "*", "+", "{")


def plans(pattern: str, mode: str) -> list[tuple[bytes, int, int, int]]:
    """Prefilter expressions for one rule ([] means: filter on its keywords). A pattern whose
    top level is an alternation gets one expression per branch (each cut on its own), so a
    two-shape rule is not reduced to keywords as common as `key`."""
    if mode == "keywords":
        return []
    if mode == "full":
        return [hs_pattern(pattern, cut=False)]
    plan = hs_pattern(pattern)
    if plan[0]:
        return [plan]
    if not top_level_alternation(pattern):
        return []
    branches = [hs_pattern(b) for b in split_alternation(pattern)]
    # a cut that leaves two letters (`\bDI` of a Duo integration key) would hit every word
    # starting with them: such a rule keeps its keywords
    return branches if all(b[0] and b[2] >= MIN_BRANCH for b in branches) else []


def split_alternation(pattern: str) -> list[str]:
    """The top-level branches of a pattern, each keeping the pattern's leading global flags."""
    m = re.match(r"\(\?[aiLmsux]+\)", pattern)
    flags = m.group(0) if m else ""
    body = pattern[len(flags) :]
    parts: list[str] = []
    last = 0
    for i, c, depth in _syntax(body):
        if c == "|" and depth == 0:
            parts.append(body[last:i])
            last = i + 1
    parts.append(body[last:])
    return [flags + part for part in parts]


def top_level_alternation(pattern: str) -> bool:
    return len(split_alternation(pattern)) > 1


def _cache_dir() -> Path:
    root = os.environ.get("KEYREAPER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "keyreaper"
    )
    return Path(root)


def cached_db(exprs: list[bytes], flags: list[int]) -> object:
    """Compiling ~250 expressions takes seconds; the compiled database is cached on disk,
    keyed by a hash of the expressions, flags and the Hyperscan version."""
    assert _hs is not None
    key = hashlib.sha256(repr((exprs, flags, _hs.__version__)).encode()).hexdigest()[:32]
    path = _cache_dir() / f"hs-{key}.db"
    try:
        db = _hs.loadb(path.read_bytes(), _hs.HS_MODE_BLOCK)
        db.scratch = _hs.Scratch(db)  # a loaded database comes without one
        return db
    except (OSError, _hs.error, ValueError, TypeError):
        pass
    db = _hs.Database()
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(_hs.dumpb(db))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs the compile next time
    return db


def literal(keyword: str) -> bytes:
    return re.escape(keyword).encode()


_compile_cache: dict[bytes, bool] = {}


def compiles(expr: bytes, flags: int) -> bool:
    assert _hs is not None
    if expr not in _compile_cache:
        try:
            db = _hs.Database()
            db.compile(expressions=[expr], ids=[0], elements=1, flags=[flags])
            _compile_cache[expr] = True
        except _hs.error:
            _compile_cache[expr] = False
    return _compile_cache[expr]
