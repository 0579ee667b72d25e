"""Files, folders (optionally only what git does not ignore) and standard input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from keyreaper.scan.items import Item, Limits, Problem
from keyreaper.scan.sources import archives, labels

_SKIP_DIRS = {".git", ".hg", ".svn", ".keyreaper"}


def iso_time(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")


def read_file(path: Path | str, display: str, limits: Limits) -> Item | Problem:
    """One file's bytes, read with one fstat and one sized read (no pathlib, no buffer of
    the full item limit for a small file); the file time becomes a date only on a finding."""
    try:
        with open(path, "rb", buffering=0) as fh:
            st = os.fstat(fh.fileno())
            # one byte more than the limit tells a truncated file apart from an exact fit
            want = min(st.st_size, limits.max_item_bytes) + 1
            data = fh.read(want) if st.st_size < 1 << 16 else _read_all(fh, want)
    except OSError as exc:
        return Problem(display, f"unreadable ({exc.strerror or exc})")
    item = Item(display, data[: limits.max_item_bytes], mtime=st.st_mtime)
    if len(data) > limits.max_item_bytes:
        item.notes.append(f"truncated at {limits.max_item_bytes} bytes")
    factory = labels.detect(display, data[:4096])
    if factory is not None:
        item.labeler = factory(item.data)
        item.date = iso_time(st.st_mtime)
        if factory is labels.confluence_html:
            item.date = labels.confluence_date(item.data) or item.date
    return item


def _read_all(fh: BinaryIO, want: int) -> bytes:
    # a file may grow between fstat and read: read in chunks up to `want`
    parts: list[bytes] = []
    got = 0
    while got < want:
        chunk = fh.read(min(want - got, 8 << 20))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _git_listed(root: Path) -> list[Path] | None:
    """Files git would track here (tracked + untracked, minus ignored), or None if not a repo."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, check=True, timeout=600,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return [root / p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def walk(root: Path, gitignore: bool) -> Iterator[Path | Problem]:
    if gitignore:
        listed = _git_listed(root)
        if listed is not None:
            yield from (p for p in listed if p.is_file() and not p.is_symlink())
            return
    yield from map(Path, walk_names(str(root)))


def walk_names(root: str) -> Iterator[str]:
    """Every regular file under a folder, sorted per folder, as plain strings: os.scandir's
    entry types save a stat per file; links are skipped (they may point out of the tree).
    An explicit stack, not recursion: a hostile tree may nest thousands of folders deep."""
    stack = [root]
    while stack:
        try:
            entries = sorted(os.scandir(stack.pop()), key=lambda e: e.name)
        except OSError:
            continue
        folders = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    if entry.name not in _SKIP_DIRS:
                        folders.append(entry.path)
                elif entry.is_file():
                    yield entry.path
            except OSError:
                continue
        stack.extend(reversed(folders))  # popped in sorted order: the walk order is stable


def items(target: str, limits: Limits, gitignore: bool = False) -> Iterator[Item | Problem]:
    """Every scannable item under a target ('-' is standard input), archives expanded."""
    if target == "-":
        data = sys.stdin.buffer.read(limits.max_item_bytes)
        yield from archives.expand(Item("<stdin>", data), limits)
        return
    root = Path(target)
    if not root.exists():
        yield Problem(target, "no such file or folder")
        return
    if root.is_file():
        first = read_file(root, target, limits)
        yield from (archives.expand(first, limits) if isinstance(first, Item) else [first])
        return
    names = (str(p) for p in walk(root, gitignore)) if gitignore else walk_names(target)
    for name in names:
        item = read_file(name, name, limits)
        if isinstance(item, Problem):
            yield item
        else:
            yield from archives.expand(item, limits)
