"""The matching engine: Hyperscan finds candidate regions for every rule in one pass, then
Python's `re` extracts the exact secret from each small region, and the checks decide.

Hyperscan runs each rule's own pattern in prefilter mode (a superset of its matches), so the
exact regex only ever sees a window of bytes, never a whole file: no input can make a rule
backtrack over megabytes. Rules whose pattern Hyperscan cannot take fall back to their
keywords. Encoded text (base64, URL-encoding, JSON escapes, quoted-printable) is found by
trigger patterns in the same database, decoded, and scanned again, nested to a depth.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from keyreaper.scan import checks, decoders, prefilter
from keyreaper.scan.rules import Rule

_hs: Any
try:  # pragma: no cover - the fallback path is exercised by forcing it in tests
    import hyperscan as _hs
except ImportError:  # pragma: no cover
    _hs = None

MAX_HITS = 200_000  # prefilter hits per buffer before the item is marked partial
_TAIL = prefilter.TAIL
_CUT_BACK = 256  # before the end of a cut prefilter's hit: the rest of its literal prefix


@dataclass
class RawMatch:
    rule: Rule
    value: str  # canonical form; wrapped in Secret before leaving the engine's caller
    start: int
    end: int
    encodings: tuple[str, ...] = ()
    identifier: str = ""
    whole: str = ""  # the whole match, for validators that need more than the secret


@dataclass
class Budget:
    deadline: float
    partial: list[str] = field(default_factory=list)

    def expired(self) -> bool:
        return time.monotonic() > self.deadline


@dataclass(frozen=True)
class _Target:
    kind: str  # "rule" or a decoder name
    index: int
    forward: int = _TAIL  # bytes after a hit where the secret may still end
    back: int = 0  # bytes before a hit where the match may start (0: the rule's window)
    # A cut prefilter of bounded width: the match starts between end-max_w and end-min_w,
    # so the exact regex is tried only there (anchored), never over a whole region.
    min_w: int = 0
    max_w: int = -1
    prefix: re.Pattern[bytes] | None = None  # the cut prefilter, for finding where it starts


class Engine:
    """Compiled rules. `backend` says which matcher runs: "hyperscan" or "re (fallback)"."""

    def __init__(self, rules: Sequence[Rule], force_re: bool = False, max_depth: int = 3):
        self.rules = list(rules)
        self.max_depth = max_depth
        self.by_id = {r.id: r for r in self.rules}
        self.keyword_rules: list[str] = []
        self._targets: list[_Target] = []
        self._db = None if force_re or _hs is None else self._compile()
        self.backend = "hyperscan" if self._db is not None else "re (fallback)"

    # -- compilation -------------------------------------------------------------------
    def _compile(self) -> object:
        assert _hs is not None
        base = _hs.HS_FLAG_DOTALL | _hs.HS_FLAG_ALLOWEMPTY | _hs.HS_FLAG_PREFILTER
        plans = [prefilter.plans(r.pattern, r.prefilter) for r in self.rules]
        try:
            return self._build(plans, base)
        except _hs.error:
            # Find the expressions Hyperscan refuses, one by one, and use keywords for them.
            plans = [ps if all(prefilter.compiles(p[0], base) for p in ps) else [] for ps in plans]
            return self._build(plans, base)

    def _build(self, plans: list[list[tuple[bytes, int, int, int]]], base: int) -> object:
        assert _hs is not None
        exprs: list[bytes] = []
        flags: list[int] = []
        self._targets = []
        self.keyword_rules = []
        for i, (rule, rule_plans) in enumerate(zip(self.rules, plans, strict=True)):
            for expr, forward, min_w, max_w in rule_plans:
                exprs.append(expr)
                flags.append(base)
                cut = forward != _TAIL  # a cut prefilter ends near the start of the match
                back = _CUT_BACK if cut else 0
                prefix = re.compile(expr, rule.flags & re.MULTILINE) if max_w >= 0 else None
                self._targets.append(_Target("rule", i, forward, back, min_w, max_w, prefix))
            if rule_plans:
                continue
            self.keyword_rules.append(rule.id)
            for kw in rule.keywords:
                exprs.append(prefilter.literal(kw))
                flags.append(_hs.HS_FLAG_CASELESS)
                self._targets.append(_Target("rule", i, rule.window))
        for name, expr in decoders.HS_TRIGGERS:
            exprs.append(expr)
            # No start-of-match (it costs a third of the scan): a URL escape is 3 bytes wide,
            # the JSON and quoted-printable decoders only need the line of the hit's end.
            flags.append(0 if name == "base64" else _hs.HS_FLAG_CASELESS)
            self._targets.append(_Target(name, -1))
        return prefilter.cached_db(exprs, flags)

    # -- scanning ----------------------------------------------------------------------
    def scan(self, data: bytes, budget: Budget | None = None, depth: int = 0) -> list[RawMatch]:
        budget = budget or Budget(time.monotonic() + 60)
        windows: dict[int, list[tuple[int, int]]] = {}
        anchors: dict[int, list[int]] = {}
        triggers: dict[str, list[tuple[int, int]]] = {}
        if self._db is not None:
            hits = self._hs_hits(data, budget)
            for tid, start, end in hits:
                target = self._targets[tid]
                if target.kind == "rule" and target.max_w >= 0:
                    anchors.setdefault(tid, []).append(end)
                elif target.kind == "rule":
                    w = target.back or self.rules[target.index].window
                    span = (max(0, end - w), end + target.forward)
                    windows.setdefault(target.index, []).append(span)
                else:
                    start = end - 3 if target.kind == "url" else end
                    triggers.setdefault(target.kind, []).append((start, end))
        else:
            windows = {i: [(0, len(data))] for i in range(len(self.rules))}
            triggers = decoders.find_triggers(data)
        found: list[RawMatch] = []
        for index, spans in windows.items():
            if budget.expired():
                budget.partial.append("time budget spent during extraction")
                break
            found.extend(self._extract(self.rules[index], data, _merge(spans)))
        for tid, ends in anchors.items():
            if budget.expired():
                budget.partial.append("time budget spent during extraction")
                break
            found.extend(self._anchored(self._targets[tid], data, ends))
        if depth < self.max_depth and not budget.expired():
            for view in decoders.views(data, triggers, budget):
                for m in self.scan(view.data, budget, depth + 1):
                    if m.end <= view.prefix:
                        continue  # text that belongs to the parent view
                    start, end = view.parent_span(m.start, m.end)
                    found.append(
                        RawMatch(m.rule, m.value, start, end,
                                 (view.encoding, *m.encodings), m.identifier, m.whole)
                    )  # fmt: skip
        if depth > 0:
            return _resolve(found)
        _ACCEPTED.clear()  # the memo holds candidate plaintexts: keep it per item only
        # prose that describes a token format quotes samples; a checksum proves a real token
        return [
            m
            for m in _resolve(found)
            if m.rule.check in checks.CHECKSUMMED or not checks.in_prose(data, m.start)
        ]

    def _hs_hits(self, data: bytes, budget: Budget) -> list[tuple[int, int, int]]:
        hits: list[tuple[int, int, int]] = []

        def on_match(tid: int, start: int, end: int, flags: int, ctx: object) -> bool:
            hits.append((tid, start, end))
            return len(hits) >= MAX_HITS

        # returning True from the callback stops the scan with ScanTerminated: too many hits
        with contextlib.suppress(_hs.ScanTerminated):
            self._db.scan(data, match_event_handler=on_match)  # type: ignore[attr-defined]
        if len(hits) >= MAX_HITS:
            budget.partial.append(f"more than {MAX_HITS} candidate regions; rest skipped")
        return hits

    def _extract(self, rule: Rule, data: bytes, spans: list[tuple[int, int]]) -> list[RawMatch]:
        out: list[RawMatch] = []
        for start, end in spans:
            for m in rule.regex.finditer(data, start, min(end, len(data))):
                _take(rule, m, out)
        return out

    def _anchored(self, target: _Target, data: bytes, ends: list[int]) -> list[RawMatch]:
        rule = self.rules[target.index]
        out: list[RawMatch] = []
        done = -1
        n = len(data)
        assert target.prefix is not None
        for end in sorted(set(ends)):
            if end <= done:
                continue
            # where does the prefilter's text start? (a few bytes, searched in C)
            for p in target.prefix.finditer(data, max(0, end - target.max_w, done), end):
                if p.end() != end:
                    continue
                m = rule.regex.match(data, p.start(), min(n, end + target.forward))
                if m:
                    _take(rule, m, out)
                    done = m.end()
                    break
        return out


def _take(rule: Rule, m: re.Match[bytes], out: list[RawMatch]) -> None:
    raw = m.group("secret")
    group = "secret"
    if raw is None and "secret2" in rule.regex.groupindex:
        raw, group = m.group("secret2"), "secret2"
    if not raw:
        return
    if rule.generic and checks.not_credential_key(m.string, m.start(group)):
        return  # a request, pagination or verification token: grants nothing
    value = raw.decode("utf-8", "surrogateescape")
    if accept(rule, value):
        canon = checks.canonical(rule.canonical, value)
        whole = m.group(0).decode("utf-8", "surrogateescape") if rule.validator else ""
        out.append(RawMatch(rule, canon, m.start(group), m.end(group), whole=whole))


# Verdicts for candidate values within one item (repeated text is checked once); cleared at
# the end of every top-level scan so no candidate outlives the item it came from.
_ACCEPTED: dict[tuple[str, str], bool] = {}


def accept(rule: Rule, value: str) -> bool:
    """The checks every candidate passes (memoised: repeated text is checked once)."""
    key = (rule.id, value)
    verdict = _ACCEPTED.get(key)
    if verdict is None:
        if len(_ACCEPTED) > 50_000:
            _ACCEPTED.clear()  # bounded memory; values live only in this process
        verdict = _ACCEPTED[key] = _accept(rule, value)
    return verdict


def _accept(rule: Rule, value: str) -> bool:
    """The checks every candidate passes: placeholder, entropy floor, rule check."""
    canon = checks.canonical(rule.canonical, value)
    if checks.is_placeholder(canon):
        return False
    if checks.entropy(checks.measured(rule.canonical, canon)) < rule.entropy:
        return False
    return checks.passes(rule.check, value)


def _resolve(found: list[RawMatch]) -> list[RawMatch]:
    """One match per secret span: provider-specific rules beat generic ones; pair secrets
    with the identifier next to them (an AWS secret key with its access key id)."""
    found.sort(key=lambda m: (priority(m.rule), m.start, m.rule.id))
    starts: list[int] = []
    ends: list[int] = []
    kept: list[RawMatch] = []
    for m in found:
        i = bisect.bisect_left(starts, m.start)
        # kept spans never overlap each other, so only the neighbours can clash
        if (i > 0 and ends[i - 1] > m.start) or (i < len(starts) and starts[i] < m.end):
            continue
        starts.insert(i, m.start)
        ends.insert(i, m.end)
        kept.append(m)
    kept.sort(key=lambda m: m.start)
    idents = [m for m in kept if m.rule.is_identifier]
    for m in kept:
        near = [i for i in idents if m.rule.pair and i.rule.id == m.rule.pair]
        if near:
            m.identifier = min(near, key=lambda i: abs(i.start - m.start)).value
    return kept


def priority(rule: Rule) -> int:
    """0 provider-specific, 1 a generic-provider rule with a shape (a header, a URL), 2 a
    keyword-anchored catch-all."""
    if rule.generic:
        return 2
    return 1 if rule.provider == "generic" else 0


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    merged = [spans[0]]
    for s, e in spans[1:]:
        if s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


LineIndex = Callable[[int], int]


def line_index(data: bytes) -> LineIndex:
    """offset -> 1-based line number. Newlines are counted in C (bytes.count) from the
    nearest offset already asked about, so a 10 MB item with two findings costs two counts,
    not a Python loop over its every line."""
    known_offsets = [0]
    known_lines = [1]

    def line(offset: int) -> int:
        i = bisect.bisect_right(known_offsets, offset) - 1
        number = known_lines[i] + data.count(b"\n", known_offsets[i], offset)
        known_offsets.insert(i + 1, offset)
        known_lines.insert(i + 1, number)
        return number

    return line
