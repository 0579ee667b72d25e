"""Runs the engine over items from the sources and turns matches into findings: fingerprinted,
located (line, column, page/issue/entry label), deduplicated per item, within budgets."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from keyreaper.domain import Secret
from keyreaper.fingerprint import Fingerprinter
from keyreaper.scan import checks
from keyreaper.scan.engine import Budget, Engine, RawMatch, line_index
from keyreaper.scan.findings import ScanFinding, Unscannable
from keyreaper.scan.items import Item, Limits, Problem
from keyreaper.scan.sources.files import iso_time


@dataclass
class Stats:
    items: int = 0
    bytes: int = 0
    findings: int = 0
    unscannable: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


class Scanner:
    def __init__(
        self,
        engine: Engine,
        fingerprinter: Fingerprinter,
        limits: Limits | None = None,
        keep_secrets: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.fingerprinter = fingerprinter
        self.limits = limits or Limits()
        self.keep_secrets = keep_secrets  # only for --validate; held in memory as Secret
        self.progress = progress
        self.stats = Stats()
        self.problems: list[Unscannable] = []

    def scan_item(self, item: Item) -> list[ScanFinding]:
        self.stats.items += 1
        self.stats.bytes += len(item.data)
        if self.progress:
            self.progress(len(item.data))
        budget = Budget(time.monotonic() + self.limits.item_seconds)
        try:
            matches = self.engine.scan(item.data, budget)
        except Exception as exc:  # one bad item never stops the run
            self._problem(item.location, f"scan failed ({type(exc).__name__})")
            return []
        for note in item.notes:
            if note.startswith("truncated"):
                self._problem(item.location, note)
        if budget.partial:
            self._problem(
                item.location, "partly scanned: " + "; ".join(sorted(set(budget.partial)))
            )
        return self._findings(item, matches)

    def _problem(self, location: str, reason: str) -> None:
        self.stats.unscannable += 1
        self.problems.append(Unscannable(location, reason))

    def _findings(self, item: Item, matches: list[RawMatch]) -> list[ScanFinding]:
        if matches and checks.example_file(item.location):
            # a sample file's keyword-anchored values illustrate; provider formats still count
            matches = [m for m in matches if not m.rule.generic]
        if not matches:
            return []
        lines = line_index(item.data)
        date = item.date or (iso_time(item.mtime) if item.mtime else "")
        paired = {m.identifier for m in matches if m.identifier}
        by_key: dict[tuple[str, str], ScanFinding] = {}
        for m in matches:
            if m.rule.is_identifier and m.value in paired:
                continue  # shown as the identifier of its secret
            key = (m.rule.id, m.value)
            if key in by_key:
                by_key[key].occurrences += 1
                continue
            secret = Secret(m.value)
            fp = self.fingerprinter.fingerprint(secret)
            line = lines(m.start)
            line_start = item.data.rfind(b"\n", 0, m.start) + 1
            by_key[key] = ScanFinding(
                rule=m.rule.id, title=m.rule.title, provider=m.rule.provider, kind=m.rule.kind,
                location=item.location, line=line, column=m.start - line_start + 1,
                fingerprint=fp.value, key_version=fp.key_version, hint=fp.hint,
                label=item.labeler(m.start) if item.labeler else "",
                encodings=list(m.encodings), identifier=m.identifier, commit=item.commit,
                author=item.author, date=date, validator=m.rule.validator,
                secret=secret if self.keep_secrets else None,
                connect=Secret(m.whole) if self.keep_secrets and m.whole else None,
            )  # fmt: skip
        found = list(by_key.values())
        self.stats.findings += len(found)
        return found

    def run(self, sources: Iterable[Item | Problem]) -> Iterator[ScanFinding]:
        for entry in sources:
            if isinstance(entry, Problem):
                self._problem(entry.location, entry.reason)
                continue
            yield from self.scan_item(entry)
