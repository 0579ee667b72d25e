"""Files, folders (optionally only what git does not ignore) and standard input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from keyreaper.scan.items import Item, Limits, Problem
from keyreaper.scan.sources import archives, labels

_SKIP_DIRS = {".git", ".hg", ".svn", ".keyreaper"}


def _mtime(st: os.stat_result) -> str:
    return datetime.fromtimestamp(st.st_mtime, UTC).isoformat(timespec="seconds")


def read_file(path: Path, display: str, limits: Limits) -> Item | Problem:
    try:
        st = path.stat()
        with open(path, "rb") as fh:
            data = fh.read(limits.max_item_bytes + 1)
    except OSError as exc:
        return Problem(display, f"unreadable ({exc.strerror or exc})")
    item = Item(display, data[: limits.max_item_bytes], _mtime(st))
    if len(data) > limits.max_item_bytes:
        item.notes.append(f"truncated at {limits.max_item_bytes} bytes")
    factory = labels.detect(display, data[:4096])
    if factory is not None:
        item.labeler = factory(item.data)
        if factory is labels.confluence_html:
            item.date = labels.confluence_date(item.data) or item.date
    return item


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
    for folder, dirs, files in os.walk(root, onerror=None):
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and not os.path.islink(os.path.join(folder, d))
        )
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_symlink():
                continue  # a link may point anywhere, including out of the tree
            yield path


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
    for path in walk(root, gitignore):
        if isinstance(path, Problem):
            yield path
            continue
        item = read_file(path, str(path), limits)
        if isinstance(item, Problem):
            yield item
        else:
            yield from archives.expand(item, limits)
