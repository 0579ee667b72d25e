"""Group commit: the writes of many worker threads share one transaction, so one fsync
serves every transition waiting at that moment (with synchronous=FULL an fsync costs
milliseconds on a busy disk, and the runner's threads would otherwise queue behind it).

Each job runs inside its own SAVEPOINT (all or nothing), and its caller is released only
after COMMIT: a step still never acts before its journal line is durable, and a job whose
write fails raises in its own caller while the others commit."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from keyreaper.store import Database


@dataclass
class _Job:
    fn: Callable[[], None]
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

    def run(self, fn: Callable[[], None]) -> None:
        """Run `fn`'s writes in the next shared transaction; returns once it committed."""
        job = _Job(fn)
        self._queue.put(job)
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="kr-commit", daemon=True)
                self._thread.start()
        job.done.wait()
        if job.error is not None:
            raise job.error

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.lock, self.db.transaction():
                    for i, job in enumerate(batch):
                        self.db.execute(f"SAVEPOINT kr_job_{i}")
                        try:
                            job.fn()
                        except Exception as exc:
                            self.db.execute(f"ROLLBACK TO SAVEPOINT kr_job_{i}")
                            job.error = exc
                        self.db.execute(f"RELEASE SAVEPOINT kr_job_{i}")
            except Exception as exc:  # the COMMIT itself failed: nobody may act
                for job in batch:
                    job.error = job.error or exc
            for job in batch:
                job.done.set()
