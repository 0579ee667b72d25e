"""Reading log files as bytes: transparent gzip, a content hash and a byte count taken while
reading, and a bounded line reader so a 100 MB line cannot take the process down."""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
DEFAULT_MAX_LINE = 16 << 20  # DuckDB's default maximum JSON object size


class TruncatedInput(Exception):
    """The compressed stream ended early or is corrupt; what was read before stays valid."""


class CountingFile(io.RawIOBase):
    """Wraps the on-disk file: hashes and counts every byte read (for dedupe and progress)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._fh.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.bytes_read += n
        return n

    def drain(self) -> None:
        """Read to the end so the hash covers the whole file even if parsing stopped early."""
        while data := self._fh.read(CHUNK):
            self.sha256.update(data)
            self.bytes_read += len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


@dataclass
class Opened:
    """An open log file: `stream` yields decompressed bytes; `counter` sees the disk bytes."""

    path: Path
    stream: IO[bytes]
    counter: CountingFile
    compressed: bool

    def close(self) -> None:
        self.stream.close()
        self.counter.close()


class _SafeGzip(io.RawIOBase):
    """gzip that turns truncation and corruption into TruncatedInput with a position."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")
        self.out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            # Small reads: what was decompressed in a call that hits the truncation is lost.
            data = self._gz.read(min(len(buffer), 1 << 16))
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise TruncatedInput(
                f"compressed data ends early or is corrupt after {self.out} bytes ({exc})"
            ) from exc
        n = len(data)
        buffer[:n] = data
        self.out += n
        return n


def open_log(path: Path) -> Opened:
    fh = open(path, "rb")  # noqa: SIM115 - closed by Opened.close
    counter = CountingFile(fh)
    buffered = io.BufferedReader(counter, CHUNK)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        stream: IO[bytes] = io.BufferedReader(_SafeGzip(buffered), CHUNK)
        return Opened(path, stream, counter, True)
    return Opened(path, buffered, counter, False)


def head(path: Path, size: int = 64 * 1024) -> bytes:
    """The first decompressed bytes, for format detection (empty on unreadable input)."""
    with open(path, "rb") as fh:
        data = fh.read(size)
        if data[:2] != GZIP_MAGIC:
            return data
        fh.seek(0)
        gz = gzip.GzipFile(fileobj=fh, mode="rb")
        parts: list[bytes] = []
        got = 0
        try:
            while got < size and (part := gz.read(min(4096, size - got))):
                parts.append(part)
                got += len(part)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            pass  # a truncated file still shows its format in what came before
        return b"".join(parts)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    data: bytes | None  # None: the line was longer than the limit and was skipped
    length: int


def lines(stream: IO[bytes], max_line: int = DEFAULT_MAX_LINE) -> Iterator[Line]:
    """Lines without their terminator. A line over `max_line` bytes is not kept in memory:
    it is reported as Line(data=None) and the reader skips to the next newline."""
    number = 0
    pending = b""
    skipping = 0  # >0: inside an over-long line, this many bytes so far
    # read1: one raw read at a time, so bytes decoded before a gzip truncation still arrive.
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(CHUNK)
        if not chunk:
            break
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                skipping += len(chunk)
                continue
            number += 1
            yield Line(number, None, skipping + cut)
            skipping = 0
            chunk = chunk[cut + 1 :]
        data = pending + chunk if pending else chunk
        parts = data.split(b"\n")
        pending = parts.pop()
        for part in parts:
            number += 1
            if len(part) > max_line:
                yield Line(number, None, len(part))
            else:
                yield Line(number, part, len(part))
        if len(pending) > max_line:
            skipping = len(pending)
            pending = b""
    if skipping:
        yield Line(number + 1, None, skipping)
    elif pending:
        yield Line(number + 1, pending if len(pending) <= max_line else None, len(pending))
