"""`campaign run`: drives due items through the engine with per-provider concurrency and
pacing, shows live progress, and stops when nothing active is left. Killed at any moment,
running it again continues from the journal."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from keyreaper.rotate import exceptions, watch
from keyreaper.rotate.engine import Engine
from keyreaper.rotate.journal import now
from keyreaper.store import Row

Progress = Callable[[dict[str, int]], None]


def run(
    engine: Engine,
    *,
    events_dir: Path | None = None,
    progress: Progress | None = None,
    max_wait: float | None = None,
    poll: float = 0.05,
) -> dict[str, int]:
    """Run until every item is dead, excepted, blocked or needs_manual (or `max_wait`
    seconds pass with work only waiting); returns the final counts."""
    journal = engine.journal
    exceptions.expire(journal)
    if events_dir is not None:
        watch.check(journal, events_dir)
    # Four times as many workers as target calls allowed (Target.slots): while one item waits for
    # its journal line to be durable, another uses the call slot.
    workers = {name: 4 * max(1, t.concurrency) for name, t in engine.targets.providers.items()}
    pools = {
        name: ThreadPoolExecutor(max_workers=workers[name], thread_name_prefix=f"kr-{name}")
        for name in engine.targets.providers
    }
    # Items of a provider missing from the targets file still run, to be marked needs_manual.
    fallback = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kr-unconfigured")
    inflight: dict[str, tuple[str, Future[None]]] = {}
    started = time.monotonic()
    last_shown = 0.0
    try:
        while True:
            for cid in [c for c, (_, f) in inflight.items() if f.done()]:
                inflight.pop(cid)[1].result()
            busy: dict[str, int] = {}
            for key, _ in inflight.values():
                busy[key] = busy.get(key, 0) + 1
            configured = tuple(engine.targets.providers)
            wanted: list[Row] = []
            for name in engine.targets.providers:
                # Queue at most two per worker: the rest stay in the store, not in memory.
                room = 2 * workers[name] - busy.get(name, 0)
                if room > 0:
                    wanted += journal.due(set(inflight), room, provider=name)
            if busy.get("", 0) < 2:
                # Items of a provider missing from the targets file still run, to be marked
                # needs_manual with the reason.
                wanted += journal.due(set(inflight), 2, others=configured)
            for row in wanted:
                provider = row["provider"]
                key = provider if provider in pools else ""
                busy[key] = busy.get(key, 0) + 1
                pool = pools.get(provider, fallback)
                inflight[row["credential_id"]] = (
                    key,
                    pool.submit(engine.run_item, row["credential_id"]),
                )
            if progress and time.monotonic() - last_shown > 0.25:
                progress(journal.counts())
                last_shown = time.monotonic()
            if inflight:
                time.sleep(poll)
                continue
            wake = journal.next_wake()
            if wake is None:
                break
            wait = (wake - now()).total_seconds()
            if max_wait is not None and time.monotonic() - started + max(wait, 0) > max_wait:
                break
            time.sleep(min(max(wait, poll), 1.0))
    finally:
        for pool in [*pools.values(), fallback]:
            pool.shutdown(wait=True, cancel_futures=True)
    counts = journal.counts()
    if progress:
        progress(counts)
    return counts


def describe(counts: dict[str, int], elapsed: float | None = None) -> str:
    parts = [
        f"verified dead {counts['dead']}/{counts['total']}",
        f"rotated {counts['rotated']}",
        f"failing {counts['failing']}",
        f"needs_manual {counts['needs_manual']}",
        f"blocked {counts['blocked']}",
        f"excepted {counts['excepted']}",
        f"remaining {counts['remaining']}",
    ]
    if elapsed is not None:
        parts.append(f"{elapsed:.0f}s")
    return " · ".join(parts)
