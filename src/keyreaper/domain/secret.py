"""A secret value that refuses to leave the process by accident."""

from __future__ import annotations

import hmac
import threading
import weakref
from typing import Any, NoReturn, final

_REDACTED = "Secret('**********')"

# Live secrets, so the logging filter can redact a value that slipped into a message.
# Memory only: nothing here is ever written anywhere. Plain weak references, pruned when the
# table doubles: a WeakValueDictionary's Python-level bookkeeping cost more than the HMAC on
# bulk imports of 100k secrets.
_live: dict[int, weakref.ref[Secret]] = {}
_live_lock = threading.Lock()
_prune_at = 1024


def _remember(secret: Secret) -> None:
    global _prune_at
    with _live_lock:
        _live[id(secret)] = weakref.ref(secret)
        if len(_live) >= _prune_at:
            for key in [k for k, ref in _live.items() if ref() is None]:
                del _live[key]
            _prune_at = max(1024, 2 * len(_live))


@final
class Secret:
    """Holds a plaintext secret; repr/str/format/pickle/JSON never show it.

    Call `reveal()` at the one place the value is really needed (an HMAC, a login).
    """

    __slots__ = ("__value", "__weakref__")
    __value: str

    def __init__(self, value: str | bytes) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        if not isinstance(value, str):
            raise TypeError("Secret takes str or bytes")
        object.__setattr__(self, "_Secret__value", value)
        _remember(self)

    def reveal(self) -> str:
        return self.__value

    def __len__(self) -> int:
        return len(self.__value)

    def __bool__(self) -> bool:
        return bool(self.__value)

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode(), other.reveal().encode())

    def __hash__(self) -> int:
        raise TypeError("Secret is not hashable; use its fingerprint")

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("Secret cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("Secret cannot be serialized")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: Any) -> Secret:
        return self


def live_values() -> list[str]:
    """Plaintexts of the secrets alive in this process, for the logging redactor only."""
    with _live_lock:
        alive = [ref() for ref in _live.values()]
    return [s.reveal() for s in alive if s is not None]
