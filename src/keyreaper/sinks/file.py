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


TEMP_DIR = ".keyreaper-tmp"


def _temp_prefix(path: Path, pid: int) -> str:
    return f".{path.name}.{pid}.keyreaper-"


def _writer_pid(name: str) -> int | None:
    """The writer's pid in `.<file>.<pid>.keyreaper-<random>` (mkstemp's part has no dot)."""
    parts = name.rsplit(".", 2)
    if len(parts) != 3 or not parts[2].startswith("keyreaper-") or not parts[1].isdigit():
        return None
    return int(parts[1])


def _drop_stale_temps(folder: Path, name: str = "") -> None:
    """A writer killed between writing its temporary file and the rename leaves a copy of
    the secret behind. The next write removes those of dead processes (of file `name`, or
    of any file when `name` is empty)."""
    pattern = f".{glob.escape(name)}.*.keyreaper-*" if name else ".*.keyreaper-*"
    for tmp in folder.glob(pattern):
        pid = _writer_pid(tmp.name)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


def write_private(path: Path, data: str, temp_dir: Path | None = None) -> None:
    """Write `data` to `path` (0600) by rename, so a reader never sees half a secret.
    `temp_dir` (same file system) keeps the temporary files apart: finding those of killed
    writers then lists a folder of a few files, not one of thousands of delivered ones."""
    if temp_dir is None:
        _drop_stale_temps(path.parent, path.name)
    else:
        temp_dir.mkdir(mode=0o700, exist_ok=True)
        _drop_stale_temps(temp_dir)
    fd, tmp = tempfile.mkstemp(dir=temp_dir or path.parent, prefix=_temp_prefix(path, os.getpid()))
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
    """`dir`/<credential id, made file-safe> holds the new secret and nothing else
    (`dir`/.keyreaper-tmp holds a file only while it is being written)."""

    name = "file"

    def __init__(self, *, dir: str) -> None:
        self.dir = Path(dir)

    def path_for(self, credential: Credential) -> Path:
        return self.dir / _UNSAFE.sub("_", credential.id)

    def deliver(self, credential: Credential, new: NewSecret) -> str:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path_for(credential)
        value = new.secret.reveal()
        # Temporary files go to a subfolder: listing the sink folder itself for leftovers
        # on every write made a 5,000-secret campaign quadratic (6 ms a write at the end).
        data = value if value.endswith("\n") else value + "\n"
        write_private(path, data, self.dir / TEMP_DIR)
        return str(path)
