"""Where the current (old) secret of a credential is read at run time. keyreaper never
stores it: a 0600 JSON file the user keeps, an environment variable, or a command."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from pathlib import Path

from keyreaper.domain import Credential, Secret
from keyreaper.errors import InputError, KeyreaperError, Location


class FileSource:
    """A JSON object {credential id: secret} in a file only its owner can read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: dict[str, Secret] | None = None

    def _load(self) -> dict[str, Secret]:
        try:
            mode = self.path.stat().st_mode
        except OSError as exc:
            raise KeyreaperError(
                f"{self.path}: cannot read the secret source ({exc.strerror})"
            ) from exc
        if mode & 0o077:
            raise KeyreaperError(
                f"{self.path}: the secret source is readable by others "
                f"({stat.filemode(mode)}); chmod 600 it"
            )
        try:
            body = json.loads(self.path.read_bytes())
        except ValueError as exc:
            # The message of a JSON error can quote the file: name the place, not the text.
            line = getattr(exc, "lineno", None)
            raise InputError(Location(str(self.path), line), "not a JSON object") from None
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise InputError(Location(str(self.path)), "must be a JSON object of strings")
        return {k: Secret(v) for k, v in body.items()}

    def get(self, credential: Credential) -> Secret | None:
        if self._cache is None:
            self._cache = self._load()
        return self._cache.get(credential.id)


_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


class EnvSource:
    """PREFIX + the credential id upper-cased with every other character as '_'."""

    def __init__(self, prefix: str = "KEYREAPER_SECRET_") -> None:
        self.prefix = prefix

    def variable(self, credential: Credential) -> str:
        return self.prefix + _UNSAFE.sub("_", credential.id).strip("_").upper()

    def get(self, credential: Credential) -> Secret | None:
        value = os.environ.get(self.variable(credential))
        return Secret(value) if value else None


class CommandSource:
    """Runs a command (no shell) with KR_CREDENTIAL_ID and KR_IDENTIFIER set; its stdout,
    without the final newline, is the secret. Exit 0 with empty output means none."""

    def __init__(self, command: str, timeout: float = 30.0) -> None:
        self.argv = shlex.split(command)
        self.timeout = timeout

    def get(self, credential: Credential) -> Secret | None:
        env = {
            **os.environ,
            "KR_CREDENTIAL_ID": credential.id,
            "KR_IDENTIFIER": credential.identifiers[0],
        }
        proc = subprocess.run(
            self.argv, env=env, capture_output=True, timeout=self.timeout, check=False
        )
        if proc.returncode != 0:
            raise KeyreaperError(
                f"secret source command exited {proc.returncode} for {credential.id}"
            )
        value = proc.stdout.rstrip(b"\r\n")
        return Secret(value) if value else None
