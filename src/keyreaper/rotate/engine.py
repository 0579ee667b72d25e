"""One item's walk through the ordered steps. Each step checks the target first, is safe to
repeat, journals its intent before touching the target (no journal line, no action) and its
outcome after; a call whose outcome is unknown is settled by probing on the next attempt.

  preflight → create → deliver → test_new → revoke_old → revoke_sessions → verify_dead → watch
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from keyreaper.domain import STEPS, Credential, ItemAction, Liveness, Secret
from keyreaper.fingerprint import Fingerprinter
from keyreaper.inventory import repo
from keyreaper.plugins import NewSecret, Probe, TwoPhaseProvider
from keyreaper.providers.blockers import CreateBlocked, TargetRefused, TargetUnavailable
from keyreaper.rotate.journal import CrashPoints, Journal, iso, now
from keyreaper.rotate.sealed import Sealed
from keyreaper.rotate.targets import Target, Targets
from keyreaper.store import Row

log = logging.getLogger("keyreaper.rotate")
T = TypeVar("T")


class ManualNeeded(Exception):
    """A person has to act; retrying will not help."""


def _later(a: str, b: str) -> str:
    """The later of two ISO times ('' is earliest): a reopened item keeps its watch cursor."""
    if not a or not b:
        return a or b
    return a if datetime.fromisoformat(a) >= datetime.fromisoformat(b) else b


def tag_for(campaign: str, credential_id: str) -> str:
    return f"keyreaper:{campaign}:{credential_id}"


class Engine:
    def __init__(
        self,
        journal: Journal,
        targets: Targets,
        sealed: Sealed,
        fingerprinter: Fingerprinter,
        crash: CrashPoints | None = None,
    ) -> None:
        self.journal = journal
        self.targets = targets
        self.settings = targets.settings
        self.sealed = sealed
        self.fp = fingerprinter
        self.crash = crash or CrashPoints()
        self._creds: dict[str, Credential] = {}
        self._old: dict[str, Secret | None] = {}
        # item -> step whose intent line is already journaled (memory only: a new run
        # simply writes it again).
        self._begun: dict[str, str] = {}

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
        """One target call, paced by the provider's limiter; pauses it when told to."""
        target.limiter.acquire()
        try:
            return fn(*args)
        except TargetUnavailable as exc:
            if exc.retry_after:
                target.limiter.pause(exc.retry_after)
            raise
        except (TimeoutError, ConnectionError) as exc:
            raise TargetUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def probe(self, target: Target, cred: Credential, identifier: str, secret: Secret) -> Probe:
        return self.call(target, target.provider.probe, cred, identifier, secret)

    # -- transitions -----------------------------------------------------------------------

    def begin(self, item: Row, step: str, **columns: Any) -> None:
        """The intent line; if it cannot be written the step does not run."""
        self.crash.hit(f"before:{step}")
        if not columns and self._begun.pop(item["credential_id"], None) == step:
            return  # journaled with the previous step's outcome, in the same transaction
        extra: dict[str, Any] = {"started_at": iso()} if not item["started_at"] else {}
        self.journal.transition(
            item, step, outcome="begin", step_started_at=iso(), **extra, **columns
        )

    def finish(
        self, item: Row, step: str, next_step: str, *, outcome: str = "ok", **columns: Any
    ) -> None:
        self.crash.hit(f"after-call:{step}")
        columns.setdefault("attempts", 0)
        # The walk goes straight on, so the next step's intent line joins this transaction.
        then = next_step if next_step != "watch" and "state" not in columns else None
        self.journal.transition(
            item,
            step,
            outcome=outcome,
            step_done=step,
            then=then,
            step=next_step,
            next_at="",
            last_error="",
            **columns,
        )
        if then is not None:
            self._begun[item["credential_id"]] = then

    def fail(
        self,
        item: Row,
        step: str,
        error: str,
        *,
        permanent: bool = False,
        retry_in: float | None = None,
        count: bool = True,
    ) -> None:
        self._begun.pop(item["credential_id"], None)  # the next attempt journals its intent again
        attempts = int(item["attempts"]) + (1 if count else 0)
        if permanent or attempts >= self.settings.max_attempts:
            self.journal.transition(
                item, step, outcome="needs_manual", detail=error, state="needs_manual",
                attempts=attempts, last_error=error,
            )  # fmt: skip
            return
        delay = retry_in
        if delay is None:
            delay = min(
                self.settings.backoff * 2 ** max(attempts - 1, 0), self.settings.backoff_max
            )
        self.journal.transition(
            item, step, outcome="retry", detail=error, attempts=attempts, last_error=error,
            next_at=iso(now() + timedelta(seconds=delay)),
        )  # fmt: skip

    # -- the walk --------------------------------------------------------------------------

    def run_item(self, credential_id: str) -> None:
        """Advance one item until it waits (spacing, backoff) or ends."""
        for _ in range(len(STEPS) * 4):
            item = self.journal.item(credential_id)
            if item["state"] not in ("pending", "reopened") or item["next_at"] > iso():
                return
            step = item["step"]
            try:
                getattr(self, f"step_{step}")(item)
            except ManualNeeded as exc:
                self.fail(item, step, str(exc), permanent=True)
            except CreateBlocked as exc:
                if exc.needs_manual:
                    self.fail(item, step, exc.reason, permanent=True)
                else:
                    # This kind is never replaced (a session): killing it is the whole job.
                    self.journal.transition(
                        item, step, outcome="revoke instead", detail=exc.reason,
                        action=ItemAction.REVOKE.value, step="revoke_old",
                        reason=f"{item['reason']}; cannot be replaced ({exc.reason}): revoked",
                    )  # fmt: skip
            except TargetRefused as exc:
                self.fail(item, step, f"target refused: {exc}", permanent=True)
            except TargetUnavailable as exc:
                self.fail(item, step, f"target unavailable: {exc}", retry_in=exc.retry_after)
            except Exception as exc:  # a provider bug or an odd answer: retry, then a person
                log.debug("step %s of %s failed", step, credential_id, exc_info=True)
                self.fail(item, step, f"{type(exc).__name__}: {exc}")

    def _rotating(self, item: Row) -> bool:
        return bool(item["action"] == ItemAction.ROTATE.value)

    def step_preflight(self, item: Row) -> None:
        target = self.target(item)
        cred = self.credential(item["credential_id"])
        if self._rotating(item) and target.sink is None:
            raise ManualNeeded(
                f"no sink for provider {target.name}: set sink = ... in the targets file"
            )
        old = self.old_secret(cred)
        self.begin(item, "preflight", old_fingerprint=str(self.fp.fingerprint(old)))
        # A provider may answer "does the current secret work" without a login (PostgreSQL
        # compares with the role's stored verifier); verify_dead always logs in for real.
        precheck = getattr(target.provider, "precheck", None)
        p = self.call(target, precheck, cred, cred.identifiers[0], old) if precheck else None
        if p is None:
            p = self.probe(target, cred, cred.identifiers[0], old)
        if p.liveness is Liveness.UNKNOWN or (p.liveness is Liveness.DEAD and not p.auth_refused):
            raise TargetUnavailable(f"preflight probe inconclusive: {p.evidence}")
        already_dead = p.liveness is Liveness.DEAD
        nxt = "create" if self._rotating(item) else "verify_dead" if already_dead else "revoke_old"
        self.finish(item, "preflight", nxt, outcome="old dead" if already_dead else "old live")

    def step_create(self, item: Row) -> None:
        target = self.target(item)
        cred = self.credential(item["credential_id"])
        provider = target.provider
        tag = tag_for(self.campaign, cred.id)
        held = self._sealed(cred.id)
        if isinstance(provider, TwoPhaseProvider):
            self.begin(item, "create")
            resumed = held is not None
            if held is None:
                held = provider.generate(cred, tag)
                self._seal(item, held, "generated")
            self.crash.hit("create:sealed")
            # Check first: after a crash the same secret may already be installed. A secret
            # generated just now cannot be, so that probe is saved.
            installed = (
                resumed
                and self.probe(target, cred, held.identifier, held.secret).liveness is Liveness.LIVE
            )
            if not installed:
                self.call(target, provider.install, cred, held)
        else:
            begun_before = bool(item["create_begun"])
            self.begin(item, "create", create_begun=1)
            keep = {held.identifier} if held else set()
            if begun_before or held:
                # Objects tagged by us whose secret we do not hold are orphans: discard them.
                for ident in self.call(target, provider.created_by_us, cred, tag):
                    if ident not in keep:
                        self.call(target, provider.discard, cred, ident)
                        self.journal.transition(
                            item, "create", outcome="discarded orphan", detail=ident
                        )
            if held is None:
                held = self.call(target, provider.create, cred, tag)
                self.crash.hit("create:created")
                self._seal(item, held, "created")
        self.finish(item, "create", "deliver", fingerprint=str(self.fp.fingerprint(held.secret)))

    def _seal(self, item: Row, new: NewSecret, outcome: str) -> None:
        fp = str(self.fp.fingerprint(new.secret))
        self.journal.transition(
            item, "create", outcome=outcome, fingerprint=fp, detail=new.identifier,
            also=lambda: self.sealed.put(self.campaign, item["credential_id"], "create", new),
            new_identifier=new.identifier, new_fingerprint=fp,
        )  # fmt: skip

    def _sealed(self, credential_id: str) -> NewSecret | None:
        with self.journal.lock:  # the store's connection is shared by the workers
            return self.sealed.get(self.campaign, credential_id)

    def _held(self, item: Row) -> NewSecret:
        held = self._sealed(item["credential_id"])
        if held is None:
            raise ManualNeeded(
                "the new secret is no longer held (deleted by hand?); re-plan the item"
            )
        return held

    def step_deliver(self, item: Row) -> None:
        target = self.target(item)
        cred = self.credential(item["credential_id"])
        held = self._held(item)
        assert target.sink is not None
        self.begin(item, "deliver")
        receipt = target.sink.deliver(cred, held)
        self.finish(
            item, "deliver", "test_new", receipt=receipt, fingerprint=item["new_fingerprint"]
        )

    def step_test_new(self, item: Row) -> None:
        target = self.target(item)
        cred = self.credential(item["credential_id"])
        held = self._held(item)
        self.begin(item, "test_new")
        p = self.probe(target, cred, held.identifier, held.secret)
        if p.liveness is Liveness.LIVE:
            # Delivered and proven: the sealed copy goes now.
            self.crash.hit("after-call:test_new")
            self.journal.transition(
                item, "test_new", outcome="new live", step_done="test_new", step="revoke_old",
                fingerprint=item["new_fingerprint"], detail=p.evidence, next_at="", attempts=0,
                last_error="", also=lambda: self.sealed.delete(self.campaign, cred.id),
            )  # fmt: skip
            return
        if p.liveness is Liveness.DEAD and isinstance(target.provider, TwoPhaseProvider):
            # Not installed after all: install the same secret again, never a new one.
            self.journal.transition(
                item, "test_new", outcome="new refused", detail=p.evidence, step="create"
            )
            raise TargetUnavailable(f"new secret refused, installing again: {p.evidence}")
        raise TargetUnavailable(f"new secret not accepted yet: {p.evidence}")

    def step_revoke_old(self, item: Row) -> None:
        target = self.target(item)
        cred = self.credential(item["credential_id"])
        old = self.old_secret(cred)
        self.begin(item, "revoke_old")
        outcome = "ok"
        if (
            self._rotating(item)
            and getattr(target.provider, "replaces_in_place", False)
            and item["new_identifier"] == cred.identifiers[0]
        ):
            # A password set by create replaced the old one, and test_new proved it is in
            # place: nothing is left to revoke. verify_dead checks it at the target.
            outcome = "replaced in place"
        else:
            self.call(target, target.provider.revoke, cred, cred.identifiers[0], old)
        self.finish(
            item, "revoke_old", "revoke_sessions", outcome=outcome, revoked_at=iso(),
            dead_probes=0, fingerprint=item["old_fingerprint"],
        )  # fmt: skip

    def step_revoke_sessions(self, item: Row) -> None:
        target = self.target(item)
        cred = self.credential(item["credential_id"])
        self.begin(item, "revoke_sessions")
        n = self.call(target, target.provider.revoke_sessions, cred)
        self.finish(
            item, "revoke_sessions", "verify_dead", outcome=f"{n} ended", sessions_revoked=n
        )

    def step_verify_dead(self, item: Row) -> None:
        target = self.target(item)
        cred = self.credential(item["credential_id"])
        old = self.old_secret(cred)
        self.begin(item, "verify_dead")
        p = self.probe(target, cred, cred.identifiers[0], old)
        fp = item["old_fingerprint"]
        if p.liveness is Liveness.LIVE:
            self.journal.transition(
                item, "verify_dead", outcome="old still live", fingerprint=fp, detail=p.evidence,
                step="revoke_old", dead_probes=0,
            )  # fmt: skip
            raise TargetUnavailable(f"old secret still accepted after revocation: {p.evidence}")
        if p.liveness is not Liveness.DEAD or not p.auth_refused:
            raise TargetUnavailable(f"probe inconclusive (not counted): {p.evidence}")
        refusals = int(item["dead_probes"]) + 1
        if refusals >= self.settings.verify_count:
            self.crash.hit("after-call:verify_dead")
            self.journal.transition(
                item, "verify_dead", outcome="dead", fingerprint=fp, detail=p.evidence,
                step_done="verify_dead", step="watch", state="dead", dead_probes=refusals,
                finished_at=iso(), watch_since=_later(item["watch_since"], item["revoked_at"] or iso()), next_at="",
                attempts=0, last_error="",
            )  # fmt: skip
            return
        spacing = timedelta(seconds=self.settings.verify_spacing)
        self.journal.transition(
            item, "verify_dead", outcome=f"refused {refusals}/{self.settings.verify_count}",
            fingerprint=fp, detail=p.evidence, dead_probes=refusals, next_at=iso(now() + spacing),
        )  # fmt: skip

    def step_watch(self, item: Row) -> None:
        """Watch is not walked: `watch.check` runs it over the event store for dead items."""
        self.journal.transition(item, "watch", outcome="watching", state="dead")
