"""Full git history: every blob reachable from any ref, scanned once, streamed through
`git cat-file --batch`. Blobs with findings are attributed afterwards to the first commit
(author, date, path) that introduced them, by one pass of `git log --reverse --raw`."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from keyreaper.scan.items import Item, Limits, Problem


@dataclass(frozen=True)
class Origin:
    commit: str
    author: str
    date: str
    path: str


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", "-C", str(repo), *args]


def blobs(repo: Path) -> Iterator[tuple[str, str]]:
    """(blob id, a path it was seen at) for every blob reachable from any ref."""
    proc = subprocess.Popen(
        _git(repo, "rev-list", "--all", "--objects", "--filter=object:type=blob"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        sha, _, path = line.rstrip(b"\n").partition(b" ")
        if path:  # commits come without a path
            yield sha.decode(), path.decode("utf-8", "surrogateescape")
    proc.wait()


def items(repo: Path, limits: Limits) -> Iterator[Item | Problem]:
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        yield Problem(str(repo), "not a git repository")
        return
    listed = list(blobs(repo))
    proc = subprocess.Popen(
        _git(repo, "cat-file", "--batch"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:
        # A writer thread: the pipe must never fill up while we are blocked reading.
        try:
            for sha, _ in listed:
                stdin.write(sha.encode() + b"\n")
        except BrokenPipeError:
            pass
        finally:
            stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = proc.stdout
    for sha, path in listed:
        header = out.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            yield Problem(f"git:{sha[:12]}:{path}", "missing object")
            continue
        size = int(header[2])
        data = out.read(size)
        out.read(1)  # the newline after each object
        item = Item(f"{path}@{sha[:12]}", data[: limits.max_item_bytes], commit="", author="")
        item.notes.append(f"blob:{sha}")
        if size > limits.max_item_bytes:
            item.notes.append(f"truncated at {limits.max_item_bytes} bytes")
        yield item
    writer.join()
    proc.wait()


def attribute(repo: Path, wanted: set[str]) -> dict[str, Origin]:
    """First commit (oldest first) whose diff adds each wanted blob."""
    found: dict[str, Origin] = {}
    if not wanted:
        return found
    proc = subprocess.Popen(
        _git(repo, "log", "--all", "--reverse", "--raw", "--no-abbrev", "--no-renames",
             "--format=%x01%H%x00%an%x00%aI"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    commit = author = date = ""
    for raw in proc.stdout:
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        if line.startswith("\x01"):
            commit, author, date = ([*line[1:].split("\x00"), "", ""])[:3]
        elif line.startswith(":"):
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) >= 4 and parts[3] in wanted and parts[3] not in found:
                found[parts[3]] = Origin(commit, author, date, path)
    proc.wait()
    return found
