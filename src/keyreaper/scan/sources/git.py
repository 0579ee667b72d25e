"""Full git history: every blob reachable from any ref, scanned once, streamed through
`git cat-file --batch`. One pass of `git log --all --reverse --raw` both lists the blobs and
names the first commit (author, date, path) that introduced each, so a finding needs no
second pass over the history."""

from __future__ import annotations

import itertools
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from keyreaper.scan.items import Item, Limits, Problem
from keyreaper.scan.sources import labels


@dataclass(frozen=True)
class Origin:
    commit: str
    author: str
    date: str
    path: str


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", "-C", str(repo), *args]


# git maps the whole pack by default (its pages then count in every reader's memory: 230 MB
# for rails, shared by log and each cat-file) and keeps 96 MB of delta bases per process.
# Mapping 4 MB windows, 32 MB at most, and a smaller delta cache cut rails' history scan from
# ~620 MB to ~330 MB of git memory for ~4 s more CPU (measured in docs/benchmarks.md).
_WINDOWS = ("-c", "core.packedGitWindowSize=4m", "-c", "core.packedGitLimit=32m")
_LOG_MEMORY = (*_WINDOWS, "-c", "core.deltaBaseCacheLimit=16m")  # trees: short chains
_READ_MEMORY = (*_WINDOWS, "-c", "core.deltaBaseCacheLimit=48m")  # blobs: long chains


_LOG = ("log", "--all", "--reverse", "--raw", "--no-abbrev", "--no-renames",
        "--diff-merges=first-parent", "--format=%x01%H%x00%an%x00%aI")  # fmt: skip
_NULL = "0" * 40


def introductions(repo: Path) -> Iterator[tuple[str, Origin]]:
    """Every blob any ref reaches, once, with the first commit (oldest first) that added it
    and the path it was added at: one `git log --raw` pass lists the blobs and attributes
    them (a merge counts with its diff to the first parent, so a conflict resolution's own
    blobs are seen too). Deletions, submodules and already-seen blobs are skipped."""
    proc = subprocess.Popen(
        _git(repo, *_LOG_MEMORY, *_LOG),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        bufsize=1 << 20,
    )
    assert proc.stdout is not None
    seen: set[bytes] = set()
    commit = author = date = ""
    try:
        for raw in proc.stdout:
            if raw[:1] == b"\x01":
                line = raw[1:].rstrip(b"\n").decode("utf-8", "surrogateescape")
                commit, author, date = ([*line.split("\x00"), "", ""])[:3]
                continue
            if raw[:1] != b":":
                continue
            meta, _, path = raw.rstrip(b"\n").partition(b"\t")
            parts = meta.split()  # :old-mode new-mode old-sha new-sha status
            if len(parts) < 5 or parts[1] == b"160000":
                continue
            sha = parts[3]
            key = bytes.fromhex(sha.decode())  # 20 bytes a blob, not a 40-char string
            if sha == _NULL.encode() or key in seen:
                continue
            seen.add(key)
            yield (
                sha.decode(),
                Origin(commit, author, date, path.decode("utf-8", "surrogateescape")),
            )
    finally:
        proc.stdout.close()
        proc.wait()


def is_repo(repo: Path) -> bool:
    return (repo / ".git").exists() or (repo / "HEAD").exists()


class BlobReader:
    """One `git cat-file --batch` process; `read(shas)` yields (sha, bytes or None if missing,
    size) in order. A writer thread feeds the ids so the pipe never fills while we read."""

    def __init__(self, repo: Path) -> None:
        self.proc = subprocess.Popen(
            _git(repo, *_READ_MEMORY, "cat-file", "--batch"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, bufsize=1 << 20,
        )  # fmt: skip

    def read(self, shas: list[str], limit: int) -> Iterator[tuple[str, bytes | None, int]]:
        stdin, out = self.proc.stdin, self.proc.stdout
        assert stdin is not None and out is not None

        def feed() -> None:
            try:
                stdin.write("".join(s + "\n" for s in shas).encode())
                stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        for sha in shas:
            header = out.readline().split()
            if len(header) < 3 or header[1] != b"blob":
                yield sha, None, 0
                continue
            size = int(header[2])
            data = out.read(min(size, limit))
            if size > limit:
                out.read(size - limit)  # skip the rest; the item says it was truncated
            out.read(1)  # the newline after each object
            yield sha, data, size
        writer.join()

    def close(self) -> None:
        # stdout too: a reader stopped mid-batch leaves output git would block writing
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe:
                pipe.close()
        self.proc.wait()


def item(sha: str, origin: Origin, data: bytes, size: int, limits: Limits) -> Item:
    found = Item(origin.path, data, origin.date, origin.commit, origin.author)
    found.notes.append(f"blob:{sha}")
    if size > limits.max_item_bytes:
        found.notes.append(f"truncated at {limits.max_item_bytes} bytes")
    factory = labels.detect(origin.path, data[:4096])
    if factory is not None:
        found.labeler = factory(data)
    return found


def items(repo: Path, limits: Limits, batch: int = 512) -> Iterator[Item | Problem]:
    """Every blob of the history as an item located at the path and commit that introduced it."""
    if not is_repo(repo):
        yield Problem(str(repo), "not a git repository")
        return
    reader = BlobReader(repo)
    try:
        pending: list[tuple[str, Origin]] = []
        for entry in itertools.chain(introductions(repo), [("", Origin("", "", "", ""))]):
            if entry[0]:
                pending.append(entry)
                if len(pending) < batch:
                    continue
            origins = dict(pending)
            for sha, data, size in reader.read([s for s, _ in pending], limits.max_item_bytes):
                o = origins[sha]
                if data is None:
                    yield Problem(f"{o.path}@{sha[:12]}", "missing object")
                else:
                    yield item(sha, o, data, size, limits)
            pending = []
    finally:
        reader.close()


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
