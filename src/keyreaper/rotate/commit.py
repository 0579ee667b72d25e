"""Group commit: the writes of many worker threads share one transaction, so one fsync
serves every transition waiting at that moment (with synchronous=FULL an fsync costs
milliseconds on a busy disk, and the runner's threads would otherwise queue behind it).

A batch runs as few statements as it can: every statement hands the GIL back and must win
it again, which under load costs more than the statement itself. So the audit lines of the
whole batch go in one multi-row INSERT, and jobs run without a SAVEPOINT each. If anything in
the batch fails, it is rolled back and each job runs again alone: a job whose write fails
raises in its own caller while the others commit. A caller is released only after COMMIT, so
a step still never acts before its journal line is durable."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from keyreaper.store import Database
from keyreaper.store.audit import Line, append

_NOTHING: tuple[Line, ...] = ()


@dataclass
class _Job:
    fn: Callable[[], None]
    lines: Sequence[Line]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, db: Database, lock: threading.RLock, max_batch: int = 64) -> None:
        self.db = db
        self.lock = lock
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def run(self, fn: Callable[[], None], lines: Sequence[Line] = _NOTHING) -> None:
        """Append `lines` to the audit journal and run `fn`'s writes, in the next shared
        transaction; returns once it committed."""
        job = _Job(fn, lines)
        self._queue.put(job)
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="kr-commit", daemon=True)
                self._thread.start()
        job.done.wait()
        if job.error is not None:
            raise job.error

    def _write(self, batch: list[_Job]) -> None:
        with self.lock, self.db.transaction():
            append(self.db, [line for job in batch for line in job.lines])
            for job in batch:
                job.fn()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = exc
                else:  # find the failing job(s): each alone, the rest commit
                    for job in batch:
                        try:
                            self._write([job])
                        except Exception as alone:
                            job.error = alone
            for job in batch:
                job.done.set()
