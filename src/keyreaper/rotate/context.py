"""What every step needs around an item: its credential, its target, the old secret, and
target calls within the provider's concurrency and pacing. The Engine builds on it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from keyreaper.domain import Credential, Secret
from keyreaper.inventory import repo
from keyreaper.plugins import Probe
from keyreaper.providers.blockers import TargetUnavailable
from keyreaper.rotate.batch import Batcher
from keyreaper.rotate.journal import CrashPoints, Journal
from keyreaper.rotate.targets import Target, Targets
from keyreaper.store import Row

T = TypeVar("T")


class ManualNeeded(Exception):
    """A person has to act; retrying will not help."""


def tag_for(campaign: str, credential_id: str) -> str:
    return f"keyreaper:{campaign}:{credential_id}"


class Context:
    def __init__(self, journal: Journal, targets: Targets) -> None:
        self.journal = journal
        self.targets = targets
        self.settings = targets.settings
        self._creds: dict[str, Credential] = {}
        self._old: dict[str, Secret | None] = {}
        self.crash = CrashPoints("")  # none; the Engine sets the run's
        self._batchers: dict[tuple[str, str], Batcher] = {}
        self._batch_lock = threading.Lock()

    @property
    def campaign(self) -> str:
        return self.journal.campaign

    # -- context ---------------------------------------------------------------------------

    def credential(self, credential_id: str) -> Credential:
        if credential_id not in self._creds:
            with self.journal.lock:
                cred = repo.get(self.journal.db, credential_id)
            if cred is None:
                raise ManualNeeded(f"{credential_id} is no longer in the inventory")
            self._creds[credential_id] = cred
        return self._creds[credential_id]

    def target(self, item: Row) -> Target:
        target = self.targets.providers.get(item["provider"])
        if target is None:
            raise ManualNeeded(f"no [providers.{item['provider']}] in the targets file")
        return target

    def old_secret(self, cred: Credential) -> Secret:
        if cred.id not in self._old:
            source = self.targets.source
            self._old[cred.id] = source.get(cred) if source else None
        secret = self._old[cred.id]
        if secret is None:
            raise ManualNeeded(
                "the secret source has no current secret for this credential, so its death "
                "cannot be verified"
            )
        return secret

    def call(self, target: Target, fn: Callable[..., T], *args: Any) -> T:
        """One target call, within the provider's concurrency and paced by its limiter;
        pauses it when told to."""
        try:
            with target.slots:
                target.limiter.acquire()
                return fn(*args)
        except TargetUnavailable as exc:
            if exc.retry_after:
                target.limiter.pause(exc.retry_after)
            raise
        except (TimeoutError, ConnectionError) as exc:
            raise TargetUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def batched(self, target: Target, step: str, fn: Callable[[list[Any]], Any], arg: Any) -> Any:
        """`fn`'s answer for `arg`, from one call shared by the items at `step` now (see
        batch.py). The caller's intent line is durable before this; its outcome line is
        written after, by the caller."""
        key = (target.name, step)
        with self._batch_lock:
            batcher = self._batchers.get(key)
            if batcher is None:

                def call(args: Sequence[Any]) -> Any:
                    out = self.call(target, fn, list(args))
                    self.crash.hit(f"after-batch:{step}")  # answered, nothing journaled yet
                    return out

                # As many items as may be in flight for this target (see runner.py).
                batcher = Batcher(call, max_batch=4 * max(1, target.concurrency))
                self._batchers[key] = batcher
        return batcher.submit(arg)

    def probe(self, target: Target, cred: Credential, identifier: str, secret: Secret) -> Probe:
        return self.call(target, target.provider.probe, cred, identifier, secret)
