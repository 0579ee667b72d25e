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
from typing import Any, TypeVar

from keyreaper.fingerprint import Fingerprinter, KeyRing
from keyreaper.scan import rules as rules_mod
from keyreaper.scan.engine import Engine
from keyreaper.scan.findings import ScanFinding, Unscannable
from keyreaper.scan.items import Item, Limits
from keyreaper.scan.scanner import Scanner
from keyreaper.scan.sources import archives, files, git

BATCH = 48
BLOB_BATCH = 400
T = TypeVar("T")
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


def _batches(paths: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    it = iter(paths)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _scan_blobs(args: tuple[str, list[tuple[str, git.Origin]]]) -> Result:
    """A batch of git blobs, read through this worker's own `git cat-file --batch`."""
    repo, batch = args
    scanner: Scanner = _worker["scanner"]
    limits = scanner.limits
    reader = _worker.get("reader")
    if reader is None:
        reader = _worker["reader"] = git.BlobReader(Path(repo))
    scanner.problems = []
    before_items, before_bytes = scanner.stats.items, scanner.stats.bytes
    found: list[ScanFinding] = []
    origins = dict(batch)
    for sha, data, size in reader.read([s for s, _ in batch], limits.max_item_bytes):
        o = origins[sha]
        if data is None:
            scanner.problems.append(Unscannable(f"{o.path}@{sha[:12]}", "missing object"))
            continue
        entry = git.item(sha, o, data, size, limits)
        if archives.kind(data):
            found.extend(scanner.run(archives.expand(entry, limits)))
        else:
            found.extend(scanner.scan_item(entry))
    return (found, scanner.problems, scanner.stats.items - before_items,
            scanner.stats.bytes - before_bytes)  # fmt: skip


def scan_history(
    repo: Path, jobs: int, engine: Engine, keys: dict[int, bytes], limits: Limits
) -> Iterator[Result]:
    """A repository's history on `jobs` forked workers, each with its own `git cat-file`:
    this process reads `git log --raw` and hands out batches of first-seen blobs."""
    _worker["scanner"] = Scanner(engine, Fingerprinter(KeyRing(keys)), limits)
    work = ((str(repo), b) for b in _batches(git.introductions(repo), BLOB_BATCH))
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap_unordered(_scan_blobs, work)
    _worker.clear()


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
