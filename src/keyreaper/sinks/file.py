"""A 0600 file per credential in a 0700 folder, written atomically."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from keyreaper.domain import Credential
from keyreaper.plugins import NewSecret

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def write_private(path: Path, data: str) -> None:
    """Write `data` to `path` (0600) by rename, so a reader never sees half a secret."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keyreaper-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileSink:
    """`dir`/<credential id, made file-safe> holds the new secret and nothing else."""

    name = "file"

    def __init__(self, *, dir: str) -> None:
        self.dir = Path(dir)

    def path_for(self, credential: Credential) -> Path:
        return self.dir / _UNSAFE.sub("_", credential.id)

    def deliver(self, credential: Credential, new: NewSecret) -> str:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path_for(credential)
        value = new.secret.reveal()
        write_private(path, value if value.endswith("\n") else value + "\n")
        return str(path)
