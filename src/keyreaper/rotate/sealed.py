"""New secrets between creation and delivery: sealed with AES-256-GCM, never in clear.

The key lives in a 0600 file next to the fingerprint key, outside the database; the
associated data binds a ciphertext to its credential, campaign and step, so a row copied to
another item does not decrypt. Rows are deleted once the secret is delivered and tested.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyreaper.domain import Secret
from keyreaper.errors import WorkspaceError
from keyreaper.plugins import NewSecret
from keyreaper.store import Database

KEY_FILE = "campaign-seal.key"


def _aad(campaign: str, credential_id: str, step: str) -> bytes:
    return json.dumps([credential_id, campaign, step]).encode()


class SealKeys:
    """Versioned AES-256 keys in a 0600 file; the highest version seals."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            self._write({1: secrets.token_bytes(32)})
        try:
            body = json.loads(path.read_text())
            self.keys = {int(v): bytes.fromhex(k) for v, k in body["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"{path}: cannot read the campaign seal key ({exc})") from exc
        if not self.keys or any(len(k) != 32 for k in self.keys.values()):
            raise WorkspaceError(f"{path}: campaign seal keys must be 32 bytes")

    def _write(self, keys: dict[int, bytes]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(
                {
                    "format": "keyreaper-seal-keys",
                    "keys": {str(v): k.hex() for v, k in keys.items()},
                },
                fh,
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @property
    def current(self) -> int:
        return max(self.keys)


class Sealed:
    """The campaign_sealed table. Callers hold the store lock and a transaction."""

    def __init__(self, db: Database, keys: SealKeys) -> None:
        self.db = db
        self.keys = keys

    def put(self, campaign: str, credential_id: str, step: str, new: NewSecret) -> None:
        version = self.keys.current
        nonce = secrets.token_bytes(12)
        box = AESGCM(self.keys.keys[version]).encrypt(
            nonce,
            new.secret.reveal().encode("utf-8", "surrogateescape"),
            _aad(campaign, credential_id, step),
        )
        self.db.execute(
            "INSERT INTO campaign_sealed (campaign, credential_id, step, identifier, tag,"
            " key_version, nonce, ciphertext, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (campaign, credential_id) DO UPDATE SET step = excluded.step,"
            " identifier = excluded.identifier, tag = excluded.tag,"
            " key_version = excluded.key_version, nonce = excluded.nonce,"
            " ciphertext = excluded.ciphertext, created_at = excluded.created_at",
            (
                campaign,
                credential_id,
                step,
                new.identifier,
                new.tag,
                version,
                base64.b64encode(nonce).decode(),
                base64.b64encode(box).decode(),
                datetime.now(UTC).isoformat(),
            ),
        )

    def get(self, campaign: str, credential_id: str) -> NewSecret | None:
        rows = self.db.query(
            "SELECT * FROM campaign_sealed WHERE campaign = ? AND credential_id = ?",
            (campaign, credential_id),
        )
        if not rows:
            return None
        r = rows[0]
        key = self.keys.keys.get(int(r["key_version"]))
        if key is None:
            raise WorkspaceError(f"campaign seal key v{r['key_version']} is missing")
        try:
            plain = AESGCM(key).decrypt(
                base64.b64decode(r["nonce"]),
                base64.b64decode(r["ciphertext"]),
                _aad(campaign, credential_id, r["step"]),
            )
        except InvalidTag as exc:
            raise WorkspaceError(
                f"sealed secret of {credential_id} does not decrypt (tampered or moved)"
            ) from exc
        return NewSecret(r["identifier"], Secret(plain), r["tag"])

    def delete(self, campaign: str, credential_id: str) -> None:
        self.db.execute(
            "DELETE FROM campaign_sealed WHERE campaign = ? AND credential_id = ?",
            (campaign, credential_id),
        )
