"""Per-provider pacing: a steady rate, and pauses a target asked for (Retry-After, Okta's
X-Rate-Limit-Reset)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime


class RateLimiter:
    """Spaces calls to `rate` per second (0 = unlimited) and honours pauses."""

    def __init__(self, rate: float = 0.0) -> None:
        self.rate = rate
        self._next_free = 0.0
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_free, self._paused_until)
            if self.rate > 0:
                self._next_free = slot + 1.0 / self.rate
        if slot > now:
            time.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """The target said wait: nobody calls it again before then."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + max(seconds, 0.0))

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a 429/503 answer: Retry-After (seconds or an HTTP date), else
    X-Rate-Limit-Reset (Okta: epoch seconds when the window resets). None if neither."""
    lower = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    value = lower.get("retry-after", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = lower.get("x-rate-limit-reset", "").strip()
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None
