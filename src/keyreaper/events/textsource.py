"""Line-oriented text logs (sshd, PostgreSQL, web access): a source is a function that turns
one decoded line into a row, None (a line of no interest), or raises Reject."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

import pyarrow as pa

from keyreaper.events import redact
from keyreaper.events.reader import DEFAULT_MAX_LINE, lines
from keyreaper.events.records import Reject, RejectFn, Row, batched

LineParser = Callable[[str], Row | None]


def parse_text(
    stream: IO[bytes],
    origin: str,
    source: str,
    parse_line: LineParser,
    on_reject: RejectFn | None,
    max_line: int = DEFAULT_MAX_LINE,
) -> Iterator[pa.RecordBatch]:
    def rows() -> Iterator[Row]:
        for line in lines(stream, max_line):
            where = f"{origin}:{line.number}"
            if line.data is None:
                if on_reject:
                    on_reject(
                        where, f"line of {line.length} bytes is over the {max_line}-byte limit"
                    )
                continue
            data = line.data.rstrip(b"\r")
            if not data.strip():
                continue
            try:
                decoded = data.decode()
            except UnicodeDecodeError:
                decoded = data.decode("utf-8", "replace")
                if on_reject:
                    on_reject(where, "invalid UTF-8 replaced with U+FFFD (line kept)")
            try:
                row = parse_line(decoded)
            except Reject as exc:
                if on_reject:
                    on_reject(where, str(exc))
                continue
            if row is None:
                continue
            row["source"] = source
            row["raw"] = redact.query_strings(decoded)
            row["origin"] = where
            yield row

    yield from batched(rows())
