"""Folder scans on several cores: worker processes each hold their own engine and scan
batches of paths; only findings (fingerprints and hints, never secrets) come back."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from keyreaper.fingerprint import Fingerprinter, KeyRing
from keyreaper.scan import rules as rules_mod
from keyreaper.scan.engine import Engine
from keyreaper.scan.findings import ScanFinding, Unscannable
from keyreaper.scan.items import Item, Limits
from keyreaper.scan.scanner import Scanner
from keyreaper.scan.sources import archives, files

BATCH = 64
_worker: dict[str, Any] = {}


def _init(
    rule_files: Sequence[Path],
    force_re: bool,
    decode_depth: int,
    keys: dict[int, bytes],
    limits: Limits,
) -> None:
    engine = Engine(rules_mod.load(rule_files), force_re=force_re, max_depth=decode_depth)
    _worker["scanner"] = Scanner(engine, Fingerprinter(KeyRing(keys)), limits)
    _worker["limits"] = limits


def _scan(batch: list[str]) -> tuple[list[ScanFinding], list[Unscannable], int, int]:
    scanner: Scanner = _worker["scanner"]
    limits: Limits = _worker["limits"]
    scanner.problems = []
    before_items, before_bytes = scanner.stats.items, scanner.stats.bytes
    found: list[ScanFinding] = []
    for path in batch:
        first = files.read_file(Path(path), path, limits)
        entries = archives.expand(first, limits) if isinstance(first, Item) else [first]
        found.extend(scanner.run(entries))
    return (found, scanner.problems, scanner.stats.items - before_items,
            scanner.stats.bytes - before_bytes)  # fmt: skip


def scan_paths(
    paths: list[str], jobs: int, rule_files: Sequence[Path], force_re: bool, decode_depth: int,
    keys: dict[int, bytes], limits: Limits,
) -> Iterator[tuple[list[ScanFinding], list[Unscannable], int, int]]:  # fmt: skip
    batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    # spawn, not fork: the parent may hold a database connection that must not cross fork()
    ctx = multiprocessing.get_context("spawn")
    args = (list(rule_files), force_re, decode_depth, keys, limits)
    with ctx.Pool(jobs, initializer=_init, initargs=args) as pool:
        yield from pool.imap_unordered(_scan, batches)
