"""The checking pass of the JSON-lines fast path (see fastpath.py), in a module light enough
to start before the heavy ones (DuckDB, pyarrow) are imported: `keyreaper logs ingest`
starts checking its first file at once (start()), and the fast path adopts that work
(take()) instead of reading the file again. Hashing, Hyperscan and numpy release the GIL, so
the check runs on the otherwise idle core while the interpreter imports.

What the check learns: the file's SHA-256, what would make record numbers differ from line
numbers, over-long lines, invalid UTF-8, gzip truncation, and (with Hyperscan) the lines that
may hold a secret-named key.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyreaper.events import redact

_hs: Any
try:  # an optional extra (scan, hunt): without it DuckDB runs the redaction test
    import hyperscan as _hs
except ImportError:  # pragma: no cover
    _hs = None

CHUNK = 1 << 22
_NOT_AN_OBJECT = "a line that does not start with '{'"
# Any key ending in a secret word, then '"', blanks and ':' — every line redact.json_text would
# change holds this (JSON allows no other blank between a key and its colon).
_SECRET_KEY = rb"(?:" + redact.WORDS.encode() + rb')"[\s\x1c-\x1f]*:'
# A line that does not start with '{' (a blank one included), found in the same pass so the
# loop below need not locate every newline.
_BAD_START = rb"\n[^{]"
_SECRET_ID, _BAD_START_ID = 0, 1
_secret_db: Any = None


def _secret_keys() -> Any:
    """The compiled Hyperscan stream database for _SECRET_KEY (built once), or None."""
    global _secret_db
    if _hs is not None and _secret_db is None:
        db = _hs.Database(mode=_hs.HS_MODE_STREAM)
        db.compile(
            expressions=[_SECRET_KEY, _BAD_START],
            ids=[_SECRET_ID, _BAD_START_ID],
            flags=[_hs.HS_FLAG_CASELESS, _hs.HS_FLAG_SINGLEMATCH],
        )
        _secret_db = db
    return _secret_db


class FastPathFailed(Exception):
    """This file needs the exact path (its reason is for the debug log only)."""


@dataclass
class Check:
    """What the checking thread learned about the file."""

    sha256: str = ""
    bytes_read: int = 0
    lines: int = 0
    problem: str = ""
    error: BaseException | None = None
    abort: Callable[[], None] | None = None  # stops DuckDB once the file is known bad
    progress: Callable[[int, int], None] | None = None  # (bytes, lines) so far
    flag_secrets: bool = False  # find the lines that may hold a secret-named key
    flagged: list[int] = field(default_factory=list)  # their line numbers, ascending
    covered: threading.Condition = field(default_factory=threading.Condition)
    done: bool = False

    def fail(self, problem: str) -> None:
        if not self.problem:
            self.problem = problem
            if self.abort is not None:
                self.abort()

    def advance(self, lines: int, flagged: list[int], finished: bool = False) -> None:
        with self.covered:
            self.flagged.extend(flagged)
            self.lines += lines
            self.done = self.done or finished
            self.covered.notify_all()

    def wait(self, lines: int) -> None:
        """Block until the first `lines` lines are checked (or checking stopped)."""
        with self.covered:
            self.covered.wait_for(lambda: self.done or self.lines >= lines)


def _check(path: Path, max_line: int, result: Check) -> None:
    """Hash the file; find what would make record numbers differ from line numbers (a line
    not starting with '{'), lines over the limit, invalid UTF-8 and gzip truncation; and,
    when asked, the lines that may hold a secret-named key."""
    import numpy  # here, not at the top: the module must stay light (see above)

    digest = hashlib.sha256()
    hits: list[int] = []  # end offsets of secret-key matches in the decompressed stream

    def on_match(pattern: int, _start: int, end: int, _flags: int, _context: object) -> None:
        if pattern == _SECRET_ID:
            hits.append(end)
        else:
            result.fail(_NOT_AN_OBJECT)

    secrets = _secret_keys() if result.flag_secrets else None
    stream = secrets.stream(match_event_handler=on_match) if secrets is not None else None
    try:
        with (
            open(path, "rb") as raw,
            stream if stream is not None else contextlib.nullcontext() as scanner,
        ):
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
            carry = 0  # length of the unfinished line from earlier chunks
            at_line_start = True
            pending = b""  # bytes after the last newline, not yet checked as UTF-8
            base = 0  # stream offset of `data`
            while chunk := raw.read(CHUNK):
                digest.update(chunk)
                result.bytes_read += len(chunk)
                data = inflate.decompress(chunk) if inflate else chunk
                if not data:
                    continue
                # A chunk may cut a character in two: check whole lines only.
                cut = data.rfind(b"\n") + 1
                if not (pending.isascii() and data.isascii()):
                    try:
                        (pending + data[:cut]).decode()
                    except UnicodeDecodeError:
                        result.fail("invalid UTF-8")
                pending = pending + data if cut == 0 else data[cut:]
                arr = numpy.frombuffer(data, dtype=numpy.uint8)
                if at_line_start and data[:1] != b"{":
                    result.fail(_NOT_AN_OBJECT)
                ends = None  # newline offsets, found only when needed
                if scanner is not None and len(data) <= max_line:
                    # Hyperscan reports bad line starts, and no line inside the chunk can
                    # exceed the limit: only the newline count and the first and last
                    # newline matter (a count costs less than locating every newline).
                    count = int(numpy.count_nonzero(arr == 10))
                    first = data.find(b"\n")
                else:
                    ends = numpy.flatnonzero(arr == 10)
                    count = len(ends)
                    first = int(ends[0]) if count else -1
                    if count:
                        starts = ends[:-1] + 1 if ends[-1] == len(data) - 1 else ends + 1
                        if len(starts) and not bool((arr[starts] == 123).all()):
                            result.fail(_NOT_AN_OBJECT)
                if count:
                    longest = first + carry
                    if ends is not None:
                        longest = max(longest, int(numpy.diff(ends).max(initial=0)))
                    carry = len(data) - cut
                    at_line_start = carry == 0
                else:
                    carry += len(data)
                    longest = carry
                    at_line_start = False
                if longest > max_line:
                    result.fail("over-long line")
                if result.problem:
                    return
                flagged: list[int] = []
                if scanner is not None:
                    scanner.scan(data)
                    if hits:  # a match's last byte lies in this chunk: count lines before it
                        if ends is None:
                            ends = numpy.flatnonzero(arr == 10)
                        last = numpy.array(hits, dtype=numpy.int64) - 1 - base
                        before = numpy.searchsorted(ends, last)
                        flagged = sorted({result.lines + 1 + int(n) for n in before})
                        hits.clear()
                base += len(data)
                result.advance(count, flagged)
                if result.progress is not None:
                    result.progress(result.bytes_read, result.lines)
            if inflate is not None and not inflate.eof:
                result.fail("truncated gzip")
            if carry:
                result.advance(1, [])  # a last line without a newline
                try:
                    pending.decode()
                except UnicodeDecodeError:
                    result.fail("invalid UTF-8")
    except (OSError, zlib.error, gzip.BadGzipFile) as exc:
        result.error = exc
    finally:
        result.sha256 = digest.hexdigest()
        result.advance(0, [], finished=True)


@dataclass
class Started:
    """A check begun before the fast path asked for it."""

    check: Check
    thread: threading.Thread
    stamp: tuple[int, int]  # size and mtime when it began


_started: dict[tuple[str, int], Started] = {}


def _key(path: Path, max_line: int) -> tuple[str, int]:
    return str(path.resolve()), max_line


def start(path: Path, max_line: int) -> None:
    """Begin checking a plain file that looks like JSON lines, on a thread, now."""
    try:
        st = path.stat()
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip()
    except OSError:
        return
    if head[:1] != b"{" or head[1:64].lstrip().startswith(b'"Records"'):
        return  # not a candidate for the fast path (CloudTrail files take the exact one)
    check = Check(flag_secrets=_hs is not None)
    thread = threading.Thread(target=_check, args=(path, max_line, check), daemon=True)
    _started[_key(path, max_line)] = Started(check, thread, (st.st_size, st.st_mtime_ns))
    thread.start()


def take(path: Path, max_line: int, flag_secrets: bool) -> Started | None:
    """The check begun for this file, if it still matches the file and the request."""
    started = _started.pop(_key(path, max_line), None)
    if started is None:
        return None
    try:
        st = path.stat()
        fits = (st.st_size, st.st_mtime_ns) == started.stamp
    except OSError:
        fits = False
    if fits and started.check.flag_secrets == flag_secrets:
        return started
    _stop(started)
    return None


def drop(path: Path, max_line: int) -> None:
    """Stop a check begun for this file that nothing adopted (skipped, other format)."""
    started = _started.pop(_key(path, max_line), None)
    if started is not None:
        _stop(started)


def _stop(started: Started) -> None:
    started.check.fail("not needed")  # the loop ends at its next chunk
    started.thread.join()
