"""A dotenv file: one KEY=value line replaced in place (or added), every other line kept
byte for byte, written to a temporary file and renamed so readers never see half of it."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from keyreaper.domain import Credential
from keyreaper.errors import KeyreaperError
from keyreaper.plugins import NewSecret
from keyreaper.sinks.file import write_private

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOCK = threading.Lock()


def _quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:+=@-]*", value):
        return value
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("$", "\\$")
    )
    return f'"{escaped}"'


class DotenvSink:
    """`path` of the .env file; `key` is the variable (a template over {name}, {id}, or a
    credential's own extra["dotenv_key"])."""

    name = "dotenv"

    def __init__(self, *, path: str, key: str = "{name}") -> None:
        self.path = Path(path)
        self.key = key

    def key_for(self, credential: Credential) -> str:
        key = str(
            credential.extra.get("dotenv_key")
            or self.key.format(name=credential.name, id=credential.id)
        )
        key = re.sub(r"[^A-Za-z0-9_]", "_", key).upper()
        if not _KEY.match(key):
            raise KeyreaperError(f"{credential.id}: {key!r} is not a valid dotenv key")
        return key

    def deliver(self, credential: Credential, new: NewSecret) -> str:
        key = self.key_for(credential)
        line = f"{key}={_quote(new.secret.reveal())}"
        pattern = re.compile(rf"^\s*(export\s+)?{re.escape(key)}\s*=")
        with _LOCK:
            text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
            lines = text.splitlines()
            out, found = [], False
            for existing in lines:
                if pattern.match(existing):
                    if not found:
                        prefix = "export " if existing.lstrip().startswith("export") else ""
                        out.append(prefix + line)
                    found = True  # a duplicate of the key is dropped: one value only
                else:
                    out.append(existing)
            if not found:
                out.append(line)
            write_private(self.path, "\n".join(out) + "\n")
        return f"{self.path}#{key}"
