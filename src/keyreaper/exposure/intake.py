"""Turns artifact files into exposure items: one per distinct secret or identifier, with its
fingerprints under every key version, its kind, how often it occurred and where first.

Plaintexts are keys of an in-memory dict while one file is read (so a cookie repeated in
50,000 entries is fingerprinted once) and are dropped when the file is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from keyreaper.domain import Exposure, Fingerprint, Secret
from keyreaper.errors import InputError, Location
from keyreaper.exposure import har, lists
from keyreaper.fingerprint import Fingerprinter

FILE_TYPES = ("auto", "har", "findings", "list-json", "list-csv", "list-text")
_MAX_ENTRIES_KEPT = 10


@dataclass
class Item:
    key: str
    kind: str
    fingerprints: list[Fingerprint]
    identifier: str
    evidence: dict[str, Any]
    occurrences: int = 1
    seen_at: datetime | None = None

    @property
    def current(self) -> Fingerprint | None:
        return self.fingerprints[-1] if self.fingerprints else None


@dataclass
class FileResult:
    path: str
    file_type: str
    status: str = "ok"  # ok | partial | rejected
    detail: str = ""
    items: dict[str, Item] = field(default_factory=dict)
    occurrences: int = 0
    earliest: datetime | None = None
    earliest_where: str = ""
    warnings: list[str] = field(default_factory=list)


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.plain: dict[str, Item] = {}
        self.other: dict[str, Item] = {}

    def add(
        self,
        kind: str,
        plaintext: str,
        identifier: str,
        evidence: dict[str, Any],
        when: datetime | None,
        fingerprint: Fingerprint | None = None,
        entry: int | None = None,
    ) -> None:
        if plaintext:
            table, key = self.plain, plaintext
        elif fingerprint is not None:
            table, key = self.other, fingerprint.value
        else:
            table, key = self.other, "id:" + identifier
        item = table.get(key)
        if item is None:
            evidence = {"file": self.source, **evidence}
            if entry is not None:
                evidence["entries"] = [entry]
            fps = [fingerprint] if fingerprint else []
            table[key] = Item(key, kind, fps, identifier, evidence, 1, when)
            return
        item.occurrences += 1
        if identifier and not item.identifier:
            item.identifier = identifier
        if when and (item.seen_at is None or when < item.seen_at):
            item.seen_at = when
        seen = item.evidence.get("entries")
        if (
            entry is not None
            and isinstance(seen, list)
            and len(seen) < _MAX_ENTRIES_KEPT
            and entry not in seen
        ):
            seen.append(entry)

    def items(self, fingerprinter: Fingerprinter) -> dict[str, Item]:
        out: dict[str, Item] = {}
        for plaintext, item in self.plain.items():
            fps = fingerprinter.all_versions(Secret(plaintext))
            item.fingerprints = [f for f in fps if f.key_version != fingerprinter.key_version] + [
                f for f in fps if f.key_version == fingerprinter.key_version
            ]
            item.key = item.fingerprints[-1].value
            _merge(out, item)
        self.plain.clear()
        for item in self.other.values():
            if item.fingerprints:
                item.key = item.fingerprints[-1].value
            _merge(out, item)
        return out


def _merge(into: dict[str, Item], item: Item) -> None:
    old = into.get(item.key)
    if old is None:
        into[item.key] = item
        return
    old.occurrences += item.occurrences
    old.identifier = old.identifier or item.identifier
    if item.seen_at and (old.seen_at is None or item.seen_at < old.seen_at):
        old.seen_at = item.seen_at


def merge_results(results: Iterable[FileResult]) -> dict[str, Item]:
    out: dict[str, Item] = {}
    for r in results:
        if r.status != "rejected":
            for item in r.items.values():
                _merge(out, item)
    return out


def detect_type(path: Path) -> str:
    """The artifact type from the first bytes (and the file name where content cannot tell)."""
    with path.open("rb") as fh:
        head = fh.read(65536).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        if b'"log"' in head[:4096] or path.suffix.lower() == ".har":
            return "har"
        return "findings" if b'"findings"' in head[:4096] else "list-json"
    if head.startswith(b"["):
        is_findings = (b'"rule_id"' in head or b'"rule"' in head) and b'"fingerprint"' in head
        return "findings" if is_findings else "list-json"
    if path.suffix.lower() == ".har":
        return "har"
    first = head.split(b"\n", 1)[0]
    return "list-csv" if path.suffix.lower() == ".csv" or b"," in first else "list-text"


def read_file(
    path: Path,
    fingerprinter: Fingerprinter,
    key_versions: set[int],
    file_type: str = "auto",
    raw_secrets: bool = False,
    accept_partial: bool = False,
    max_body: int = har.MAX_BODY,
) -> FileResult:
    """Reads one artifact; a structural error rejects the file (or, with accept_partial,
    keeps what was read before it and marks the file partial)."""
    if not path.is_file():
        raise InputError(Location(str(path)), "no such file")
    kind = detect_type(path) if file_type == "auto" else file_type
    result = FileResult(str(path), kind)
    collector = _Collector(str(path))
    try:
        if kind == "har":
            _read_har(path, collector, result, max_body)
        else:
            _read_list(path, kind, collector, result, key_versions, raw_secrets)
    except InputError as exc:
        result.detail = str(exc)
        if not accept_partial:
            result.status = "rejected"
            return result
        result.status = "partial"
    result.items = collector.items(fingerprinter)
    if result.warnings and result.status == "ok":
        result.status = "partial"
        result.detail = f"{len(result.warnings)} warning(s); first: {result.warnings[0]}"
    return result


def _read_har(path: Path, collector: _Collector, result: FileResult, max_body: int) -> None:
    stats = har.HarStats()
    try:
        plain = collector.plain
        for occ in har.extract(path, stats, max_body):
            hit = occ.hit
            result.occurrences += 1
            item = plain.get(hit.value) if hit.value else None
            if item is not None and item.seen_at is not None and occ.time is not None:
                # the common case (a cookie sent again): count it without building evidence
                item.occurrences += 1
                if occ.time < item.seen_at:
                    item.seen_at = occ.time
                item.identifier = item.identifier or hit.identifier
                seen = item.evidence["entries"]
                if len(seen) < _MAX_ENTRIES_KEPT and occ.entry not in seen:
                    seen.append(occ.entry)
                continue
            evidence = {
                "entry": occ.entry,
                "location": occ.location,
                "name": hit.name[:100],
                "url": occ.url,
            }
            collector.add(hit.kind, hit.value, hit.identifier, evidence, occ.time, entry=occ.entry)
    finally:
        result.warnings.extend(stats.warnings)
        if stats.earliest is not None:
            result.earliest = stats.earliest
            index = stats.earliest_entry
            place = f"entries[{index}]" if index >= 0 else f"pages[{-1 - index}]"
            result.earliest_where = f"startedDateTime of {place}"


def _read_list(
    path: Path,
    kind: str,
    collector: _Collector,
    result: FileResult,
    key_versions: set[int],
    raw_secrets: bool,
) -> None:
    if kind == "findings":
        records = lists.read_findings(path, key_versions, result.warnings)
    elif kind == "list-json":
        records = lists.read_json_list(path, raw_secrets, result.warnings)
    elif kind == "list-csv":
        records = lists.read_csv(path, raw_secrets, result.warnings)
    elif kind == "list-text":
        records = lists.read_lines(path, raw_secrets, result.warnings)
    else:
        raise InputError(
            Location(str(path)), f"unknown file type {kind!r} (one of {', '.join(FILE_TYPES)})"
        )
    for rec in records:
        evidence = {"where": rec.where.removeprefix(str(path)).lstrip(":"), **rec.evidence}
        collector.add(rec.kind, rec.plaintext, rec.identifier, evidence, rec.time, rec.fingerprint)
        result.occurrences += 1
        if rec.time and (result.earliest is None or rec.time < result.earliest):
            result.earliest, result.earliest_where = rec.time, f"date of {evidence['where']}"


def choose_t0(
    given: datetime | None, results: Iterable[FileResult], old: Exposure | None
) -> tuple[datetime | None, str]:
    """T0 and where it came from: given; else the earliest time in the files read, unless
    the exposure already has an earlier or a given one."""
    if given is not None:
        return given, "given (--t0)"
    best: tuple[datetime, str] | None = None
    for r in results:
        if r.status != "rejected" and r.earliest and (best is None or r.earliest < best[0]):
            best = (
                r.earliest,
                f"earliest timestamp in the artifacts: {r.earliest_where} of {r.path}",
            )
    if (
        old is not None
        and old.t0 is not None
        and (best is None or old.t0 <= best[0] or old.t0_source.startswith("given"))
    ):
        return old.t0, old.t0_source
    if best:
        return best
    return None, "unknown: no timestamp in the artifacts (set one with --t0)"
