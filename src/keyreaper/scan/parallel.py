"""Folder scans on several cores: worker processes scan batches of paths; only findings
(fingerprints and hints, never secrets) come back.

Workers are forked from the parent after it has built the engine, so they inherit the
compiled rules and the Hyperscan database instead of importing and compiling again (a spawned
worker paid ~1.5 s of start-up each). Forking is safe here: a workspace connection the parent
may hold is never used in a worker, and pool workers leave through os._exit, so no finalizer
closes it from the child. Where fork does not exist, workers are spawned and build their own.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from keyreaper.fingerprint import Fingerprinter, KeyRing
from keyreaper.scan import rules as rules_mod
from keyreaper.scan.engine import Engine
from keyreaper.scan.findings import ScanFinding, Unscannable
from keyreaper.scan.items import Item, Limits
from keyreaper.scan.scanner import Scanner
from keyreaper.scan.sources import archives, files

BATCH = 48
Result = tuple[list[ScanFinding], list[Unscannable], int, int]
_worker: dict[str, Any] = {}


def _init_spawned(
    rule_files: Sequence[Path], force_re: bool, decode_depth: int, keys: dict[int, bytes],
    limits: Limits,
) -> None:  # fmt: skip
    engine = Engine(rules_mod.load(rule_files), force_re=force_re, max_depth=decode_depth)
    _worker["scanner"] = Scanner(engine, Fingerprinter(KeyRing(keys)), limits)


def _scan(batch: list[str]) -> Result:
    scanner: Scanner = _worker["scanner"]
    limits = scanner.limits
    scanner.problems = []
    before_items, before_bytes = scanner.stats.items, scanner.stats.bytes
    found: list[ScanFinding] = []
    for path in batch:
        first = files.read_file(path, path, limits)
        if isinstance(first, Item) and not archives.kind(first.data):
            found.extend(scanner.scan_item(first))  # the common case: no generator layers
            continue
        entries = archives.expand(first, limits) if isinstance(first, Item) else [first]
        found.extend(scanner.run(entries))
    return (found, scanner.problems, scanner.stats.items - before_items,
            scanner.stats.bytes - before_bytes)  # fmt: skip


def _batches(paths: Iterable[str]) -> Iterator[list[str]]:
    it = iter(paths)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def scan_paths(
    paths: Iterable[str], jobs: int, engine: Engine, keys: dict[int, bytes], limits: Limits, rule_files: Sequence[Path] = (), force_re: bool = False,
) -> Iterator[Result]:  # fmt: skip
    """Scan files on `jobs` workers. `paths` may be a lazy walk: the pool's feeder thread
    consumes it while the workers already scan the first batches."""
    if "fork" in multiprocessing.get_all_start_methods():
        _worker["scanner"] = Scanner(engine, Fingerprinter(KeyRing(keys)), limits)
        pool = multiprocessing.get_context("fork").Pool(jobs)
    else:  # pragma: no cover - platforms without fork (Windows)
        args = (list(rule_files), force_re, engine.max_depth, keys, limits)
        pool = multiprocessing.get_context("spawn").Pool(
            jobs, initializer=_init_spawned, initargs=args
        )
    with pool:
        yield from pool.imap_unordered(_scan, _batches(paths))
    _worker.clear()
