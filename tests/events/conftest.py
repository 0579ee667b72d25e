"""Helpers for the log-source tests: parse bytes or files with the detected source."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa

from keyreaper.events.reader import head, open_log
from keyreaper.events.sources import all_sources, detect
from keyreaper.plugins import LogSource


def source_for(data: bytes) -> LogSource:
    source = detect(data[:65536], all_sources())
    assert source is not None, f"no source detected for {data[:80]!r}"
    return source


def parse_bytes(
    data: bytes, source: LogSource | None = None, origin: str = "mem"
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    source = source or source_for(data)
    rejects: list[tuple[str, str]] = []
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    batches = list(source.parse(stream, origin, lambda w, r: rejects.append((w, r))))  # type: ignore[call-arg]
    rows = pa.Table.from_batches(batches).to_pylist() if batches else []
    return rows, rejects


def parse_file(path: Path) -> tuple[str, list[dict[str, Any]], list[tuple[str, str]]]:
    source = detect(head(path), all_sources())
    assert source is not None, f"{path}: no source detected"
    for_file = getattr(source, "for_file", None)
    if for_file is not None:
        source = for_file(path)
    opened = open_log(path)
    rejects: list[tuple[str, str]] = []
    try:
        batches = list(
            source.parse(opened.stream, path.name, lambda w, r: rejects.append((w, r)))  # type: ignore[call-arg]
        )
    finally:
        opened.close()
    rows = pa.Table.from_batches(batches).to_pylist() if batches else []
    return source.name, rows, rejects
