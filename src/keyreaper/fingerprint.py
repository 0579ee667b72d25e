"""Keyed fingerprints: HMAC-SHA256(workspace key, normalized secret), never a bare hash."""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from keyreaper.domain import Fingerprint, Secret
from keyreaper.errors import WorkspaceError

_PREFIX_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]{1,11}[_\-.])")
_KNOWN_PREFIXES = ("AKIA", "ASIA", "AIza", "xox", "SSWS ", "sk-ant-", "sk-", "eyJ")
_HINT_MIN_LEN = 16  # below this, even four characters give away too much


def normalize(value: str) -> str:
    """The form that is fingerprinted: NFC, surrounding whitespace and quotes removed."""
    if not value.isascii():  # ASCII is already NFC; skipping the call halves bulk imports
        value = unicodedata.normalize("NFC", value)
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
        value = value[1:-1].strip()
    return value


def hint(value: str) -> str:
    """A short public hint for humans: provider prefix plus the last four characters."""
    return _hint(normalize(value))


def _hint(value: str) -> str:
    prefix = ""
    if value.startswith(_KNOWN_PREFIXES):  # one C call for the common no-prefix case
        prefix = next(k for k in _KNOWN_PREFIXES if value.startswith(k)).strip()
    else:
        match = _PREFIX_RE.match(value)
        if match and len(match.group(1)) < len(value) // 2:
            prefix = match.group(1)
    if len(value) < _HINT_MIN_LEN:
        return f"{prefix}…({len(value)} chars)"
    return f"{prefix}…{value[-4:]}"


@dataclass(frozen=True)
class KeyRing:
    """The workspace's fingerprint keys by version; the highest is current."""

    keys: dict[int, bytes]

    @property
    def current(self) -> int:
        return max(self.keys)

    @classmethod
    def generate(cls) -> KeyRing:
        return cls({1: secrets.token_bytes(32)})

    def rotated(self) -> KeyRing:
        return KeyRing({**self.keys, self.current + 1: secrets.token_bytes(32)})

    def dump(self, path: Path) -> None:
        body = {
            "format": "keyreaper-fingerprint-keys",
            "current": self.current,
            "keys": {str(v): k.hex() for v, k in sorted(self.keys.items())},
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        try:
            body = json.loads(path.read_text())
            keys = {int(v): bytes.fromhex(k) for v, k in body["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"{path}: cannot read the fingerprint key file ({exc})") from exc
        if not keys or any(len(k) < 32 for k in keys.values()):
            raise WorkspaceError(f"{path}: fingerprint keys must be at least 32 bytes")
        return cls(keys)


class Fingerprinter:
    """Computes fingerprints under the current key, and under every key for lookups."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    @property
    def key_version(self) -> int:
        return self._ring.current

    def _digest(self, version: int, value: str) -> str:
        # hmac.digest is the one-shot C path: several times faster than hmac.new per value.
        return hmac.digest(self._ring.keys[version], value.encode("utf-8"), "sha256").hex()

    def fingerprint(self, secret: Secret) -> Fingerprint:
        value = normalize(secret.reveal())
        version = self._ring.current
        return Fingerprint(self._digest(version, value), version, _hint(value))

    def all_versions(self, secret: Secret) -> list[Fingerprint]:
        """Fingerprints under every key version held, so old records still match."""
        value = normalize(secret.reveal())
        h = _hint(value)
        return [Fingerprint(self._digest(v, value), v, h) for v in sorted(self._ring.keys)]
