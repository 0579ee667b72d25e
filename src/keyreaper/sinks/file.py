"""A 0600 file per credential in a 0700 folder, written atomically."""

from __future__ import annotations

import glob
import os
import re
import tempfile
from pathlib import Path

from keyreaper.domain import Credential
from keyreaper.plugins import NewSecret

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def _temp_prefix(path: Path, pid: int) -> str:
    return f".{path.name}.{pid}.keyreaper-"


def _drop_stale_temps(path: Path) -> None:
    """A writer killed between writing its temporary file and the rename leaves a copy of
    the secret behind. The next write to the same file removes those of dead processes."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.keyreaper-*"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


def write_private(path: Path, data: str) -> None:
    """Write `data` to `path` (0600) by rename, so a reader never sees half a secret."""
    _drop_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path, os.getpid()))
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
