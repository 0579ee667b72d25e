"""Why a provider cannot act, and failures of the target that are worth retrying.

The Provider contract returns values; these exceptions carry the two outcomes a campaign must
tell apart: "a human has to do something" (the item is blocked or needs_manual, with the
reason in the plan) and "the target did not answer properly, try later" (a durable retry,
honouring `retry_after` when the target named one).
"""

from __future__ import annotations

from keyreaper.errors import KeyreaperError


class CreateBlocked(KeyreaperError):
    """The provider cannot create (or discard) here; `reason` names what is missing.

    `needs_manual` is True when a person can unblock it (create an Okta API token in the
    Admin Console, free one of the two AWS key slots); False when the kind is never rotated
    (sessions are only revoked)."""

    def __init__(self, reason: str, *, needs_manual: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.needs_manual = needs_manual


class TargetUnavailable(KeyreaperError):
    """A network error, a timeout, throttling or a 5xx: the outcome is unknown.

    Never evidence of anything; a campaign resolves it by probing, then retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TargetRefused(KeyreaperError):
    """The target answered and said no for a reason retrying will not fix (permissions,
    validation). The item needs a person."""
