"""Batched target calls: workers that reach the same step at about the same time share one
call of the provider's batch form (one `pg_authid` read, one `pg_terminate_backend` query)
instead of making one call each.

Durability is the engine's, unchanged: a worker submits its item only after the item's
intent line is durable, and journals the outcome itself once the batch answered. A batch
therefore holds only items whose intent is journaled, and a crash between the batched call
and the journal writes leaves every item of the batch at a step that is safe to repeat.

The first worker to find no batch running leads: it waits up to `linger` seconds (or until
`max_batch` items queued) so that others can join, makes the one call, and hands each worker
its own answer. An answer may be a function; the worker then calls it in its own thread,
outside the target's call slot (PostgreSQL's preflight hashes each secret that way)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Call = Callable[[Sequence[Any]], Sequence[Any]]


@dataclass
class _Request:
    arg: Any
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class Batcher:
    def __init__(self, call: Call, max_batch: int = 32, linger: float = 0.02) -> None:
        self._call = call
        self.max_batch = max_batch
        self.linger = linger
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._leading = False
        self.batches = 0  # counters for profiles and tests
        self.items = 0

    def submit(self, arg: Any) -> Any:
        """The answer for `arg`, from a batch call shared with whoever else is waiting."""
        req = _Request(arg)
        with self._cond:
            self._queue.append(req)
            if len(self._queue) >= self.max_batch:
                self._cond.notify_all()  # a lingering leader can go now
        while True:
            with self._cond:
                while not req.done and self._leading:
                    self._cond.wait()
                if req.done:
                    break
                self._leading = True
                deadline = time.monotonic() + self.linger
                while len(self._queue) < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._lead(batch)  # if ours was not among them (a long queue), lead again
        if req.error is not None:
            raise req.error
        return req.result() if callable(req.result) else req.result

    def _lead(self, batch: list[_Request]) -> None:
        try:
            results = list(self._call([r.arg for r in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"batch call answered {len(results)} of {len(batch)} items")
            for r, result in zip(batch, results, strict=True):
                r.result = result
        except BaseException as exc:  # every item of the batch fails alike, and retries alone
            for r in batch:
                r.error = exc
        finally:
            with self._cond:
                for r in batch:
                    r.done = True
                self.batches += 1
                self.items += len(batch)
                self._leading = False
                self._cond.notify_all()
