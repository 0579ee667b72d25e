"""Opens a workspace: its config, fingerprint keys, state store and event store folder.

A workspace is a `.keyreaper/` folder (like `.git/`), found by walking up from the current
directory unless `--workspace` or KEYREAPER_WORKSPACE names one.
"""

from __future__ import annotations

import os
import stat
from functools import cached_property
from pathlib import Path

from keyreaper.config import CONFIG_NAME, TEMPLATE, Config
from keyreaper.errors import WorkspaceError
from keyreaper.fingerprint import Fingerprinter, KeyRing
from keyreaper.store import Database, connect, migrate

MARKER = ".keyreaper"
KEY_FILE = "fingerprint.key"
ENV_VAR = "KEYREAPER_WORKSPACE"


def _resolve(path: Path) -> Path:
    """Accept either the project folder or its .keyreaper folder."""
    path = path.expanduser().resolve()
    if path.name != MARKER and (path / MARKER).is_dir():
        return path / MARKER
    return path


def find(start: Path | None = None, explicit: str | None = None) -> Path:
    """The workspace folder: explicit > KEYREAPER_WORKSPACE > walking up from `start`."""
    named = explicit or os.environ.get(ENV_VAR)
    if named:
        root = _resolve(Path(named))
        if not (root / CONFIG_NAME).is_file():
            raise WorkspaceError(f"{named}: not a keyreaper workspace (run keyreaper init)")
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER / CONFIG_NAME).is_file():
            return folder / MARKER
    raise WorkspaceError(
        f"no keyreaper workspace in {here} or any parent "
        "(run keyreaper init, or pass --workspace / set KEYREAPER_WORKSPACE)"
    )


def _check_private(root: Path) -> None:
    """Refuse a workspace whose files others can read: it holds the fingerprint key."""
    loose: list[str] = []
    candidates = [root, *root.iterdir(), *(root / "keys").glob("*")]
    for path in candidates:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            loose.append(f"{path} (symlink)")
        elif mode & 0o077:
            loose.append(f"{path} ({stat.filemode(mode)})")
    if loose:
        raise WorkspaceError(
            "refusing to open a workspace that others can read: "
            + ", ".join(loose)
            + f" — fix with: chmod -R go-rwx {root}"
        )


def init(directory: Path, store_url: str | None = None) -> Path:
    """Create a workspace in `directory`; refuses to overwrite an existing one."""
    old = os.umask(0o077)
    try:
        root = directory.expanduser().resolve() / MARKER
        if (root / CONFIG_NAME).exists():
            raise WorkspaceError(f"{root}: a workspace already exists here")
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        root.chmod(0o700)
        (root / "keys").mkdir(mode=0o700, exist_ok=True)
        text = TEMPLATE
        if store_url:
            text = text.replace('url = "sqlite:///state.db"', f'url = "{store_url}"')
        config_path = root / CONFIG_NAME
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        KeyRing.generate().dump(root / "keys" / KEY_FILE)
        ws = Workspace(root)
        _ = ws.db  # creates and migrates the state store
        ws.close()
        return root
    finally:
        os.umask(old)


class Workspace:
    """An open workspace. Pass it explicitly; there is no global one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        _check_private(root)
        self.config = Config.load(root / CONFIG_NAME)
        self.keyring = KeyRing.load(root / "keys" / KEY_FILE)
        self.fingerprinter = Fingerprinter(self.keyring)

    @classmethod
    def open(cls, explicit: str | None = None, start: Path | None = None) -> Workspace:
        return cls(find(start, explicit))

    @cached_property
    def db(self) -> Database:
        old = os.umask(0o077)
        try:
            db = connect(str(self.config.get("store.url")), self.root)
            migrate(db)
            return db
        finally:
            os.umask(old)

    @property
    def events_dir(self) -> Path:
        path = self.root / str(self.config.get("events.dir"))
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    @property
    def logs_dir(self) -> Path:
        path = self.root / "logs"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()
            del self.__dict__["db"]
