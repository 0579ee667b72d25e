"""A log source for JSON records described declaratively: which paths fill which columns.

Built-in JSON sources (Okta, CloudTrail, GitHub, ...) and user TOML field maps are all a
JsonSource; a source with quirks adds an `adjust(record, row)` hook. Reads JSON lines,
JSON arrays (Okta's API pages) and `{"Records": [...]}` files (CloudTrail) alike; the raw
record is kept whole, so a field that first appears late in a file is never lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson
import pyarrow as pa

from keyreaper.events import redact
from keyreaper.events.fastpath import Plan, plan
from keyreaper.events.reader import DEFAULT_MAX_LINE, lines, open_log
from keyreaper.events.records import (
    Reject,
    RejectFn,
    Row,
    batched,
    first,
    get,
    integer,
    json_text,
    loads,
    micros,
    split_path,
    text,
)

Adjust = Callable[[dict[str, Any], Row], None]
Unwrap = Callable[[dict[str, Any]], dict[str, Any]]

_TEXT_COLUMNS = (
    "event_type",
    "category",
    "outcome",
    "actor_id",
    "actor_name",
    "actor_type",
    "credential_id",
    "credential_kind",
    "src_ip",
    "user_agent",
    "target_id",
    "target_type",
    "target_name",
    "session_id",
    "issued_credential_id",
)


def _ignore(location: str, reason: str) -> None:
    return None


@dataclass  # not frozen: LogSource declares plain attributes
class JsonSource:
    """name, detection byte-strings, and column -> JSON paths (first present wins)."""

    name: str
    fields: Mapping[str, tuple[str, ...]]
    time: tuple[str, ...]
    detect_all: tuple[bytes, ...] = ()
    detect_any: tuple[bytes, ...] = ()
    usage_event_types: tuple[str, ...] = ()
    constants: Mapping[str, str] = field(default_factory=dict)
    # outcome: path and value -> success/failure (compared lower-case)
    outcome_path: tuple[str, ...] = ()
    outcome_values: Mapping[str, str] = field(default_factory=dict)
    adjust: Adjust | None = None
    unwrap: Unwrap | None = None
    container_key: str = ""  # e.g. "Records": a file that is one object holding the list
    description: str = ""
    # The fast path (DuckDB over whole files) needs `adjust` said again in SQL: column ->
    # expression over the mapped columns and the extra `helpers` paths.
    sql: Mapping[str, str] | None = None
    helpers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        paths = {k: tuple(split_path(p) for p in v) for k, v in self.fields.items()}
        object.__setattr__(self, "_paths", paths)
        object.__setattr__(self, "_time", tuple(split_path(p) for p in self.time))
        object.__setattr__(self, "_outcome", tuple(split_path(p) for p in self.outcome_path))

    def fast_plan(self, path: Path, origin: str, max_line: int) -> Plan | None:
        """The fast-path SQL for a JSON-lines file, or None when this source needs Python."""
        if self.unwrap is not None or (self.adjust is not None and self.sql is None):
            return None
        return plan(
            self.name,
            path,
            origin,
            max_line,
            fields=self._paths,  # type: ignore[attr-defined]
            time=self._time,  # type: ignore[attr-defined]
            outcome=self._outcome,  # type: ignore[attr-defined]
            outcome_values=dict(self.outcome_values),
            constants=dict(self.constants),
            helpers={k: tuple(split_path(p) for p in v) for k, v in self.helpers.items()},
            overrides=dict(self.sql or {}),
        )

    def detect(self, head: bytes) -> bool:
        if head.lstrip()[:1] not in (b"{", b"[") or not (self.detect_all or self.detect_any):
            return False  # a map without detection texts is used only through --format
        if self.detect_all and not all(k in head for k in self.detect_all):
            return False
        return not self.detect_any or any(k in head for k in self.detect_any)

    # -- one record -> one row -------------------------------------------------------------

    def row(self, record: dict[str, Any]) -> Row:
        if self.unwrap is not None:
            record = self.unwrap(record)
        paths: dict[str, tuple[tuple[str, ...], ...]] = self._paths  # type: ignore[attr-defined]
        row: Row = dict(self.constants)
        for column, column_paths in paths.items():
            value = first(record, column_paths)
            if value is not None:
                row[column] = value
        row["time"] = micros(first(record, self._time))  # type: ignore[attr-defined]
        if self._outcome:  # type: ignore[attr-defined]
            value = text(first(record, self._outcome))  # type: ignore[attr-defined]
            if value is not None:
                row["outcome"] = self.outcome_values.get(value.lower(), "unknown")
        # Hooks see the columns as text, as the fast path's SQL does (a list where a name
        # belongs must not make the record unreadable); what they set is made text after.
        for column in _TEXT_COLUMNS:
            if column in row:
                row[column] = text(row[column])
        if self.adjust is not None:
            self.adjust(record, row)
            for column in _TEXT_COLUMNS:
                if column in row:
                    row[column] = text(row[column])
        row["src_asn"] = integer(row.get("src_asn"))
        if not row.get("event_type"):
            raise Reject("no event type")
        row["source"] = self.name
        return row

    # -- a stream -> record batches --------------------------------------------------------

    def parse(
        self,
        stream: IO[bytes],
        origin: str,
        on_reject: RejectFn | None = None,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> Iterator[pa.RecordBatch]:
        reject = on_reject or _ignore
        start = _peek(stream, 4096)
        stripped = start.lstrip()
        if stripped[:1] == b"[":
            records = self._items(stream, origin, "item", reject)
        elif self.container_key and re.match(
            rb'\{\s*"' + re.escape(self.container_key.encode()) + rb'"\s*:', stripped
        ):
            records = self._items(stream, origin, f"{self.container_key}.item", reject)
        else:
            records = self._lines(stream, origin, reject, max_line)

        def rows() -> Iterator[Row]:
            for where, record, raw in records:
                try:
                    row = self.row(record)
                except Reject as exc:
                    reject(where, str(exc))
                    continue
                except (TypeError, ValueError, OverflowError) as exc:
                    reject(where, f"unexpected shape ({type(exc).__name__}: {exc})")
                    continue
                row["raw"] = redact.json_text(raw)
                row["origin"] = where
                yield row

        yield from batched(rows())

    def _lines(
        self, stream: IO[bytes], origin: str, reject: RejectFn, max_line: int
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        for line in lines(stream, max_line):
            where = f"{origin}:{line.number}"
            data = line.data
            if data is None:
                reject(where, f"line of {line.length} bytes is over the {max_line}-byte limit")
                continue
            data = data.strip()
            if not data:
                continue
            try:
                value = loads(data)
                raw = data.decode()
            except ValueError as exc:
                raw = data.decode("utf-8", "replace")
                try:
                    value = loads(raw.encode())
                except ValueError:
                    reject(where, f"not JSON ({exc})")
                    continue
                reject(where, "invalid UTF-8 replaced with U+FFFD (event kept)")
            if isinstance(value, dict):
                yield where, value, raw
            elif isinstance(value, list):  # an API page written as one line
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        yield f"{where}#{i}", item, json_text(item)
                    else:
                        reject(f"{where}#{i}", "not a JSON object")
            else:
                reject(where, "not a JSON object")

    def _items(
        self, stream: IO[bytes], origin: str, prefix: str, reject: RejectFn
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        done = 0
        try:
            for item in ijson.items(stream, prefix, use_float=True):
                yield from self._item(origin, done, item, reject)
                done += 1
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            if "integer overflow" in str(exc) and Path(origin).is_file():
                # yajl's C parser stops at integers over 64 bits; Python's parser keeps them
                # exact. It re-reads the file on its own (the caller's stream still hashes it).
                yield from self._items_exact(Path(origin), prefix, done, reject)
                return
            reject(f"{origin}#{done}", f"JSON error, rest of the file skipped ({exc})")

    def _items_exact(
        self, path: Path, prefix: str, skip: int, reject: RejectFn
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        opened = open_log(path)
        index = 0
        try:
            parser = ijson.get_backend("python").items(opened.stream, prefix, use_float=True)
            for index, item in enumerate(parser):
                if index >= skip:
                    yield from self._item(str(path), index, item, reject)
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            reject(f"{path}#{index + 1}", f"JSON error, rest of the file skipped ({exc})")
        finally:
            opened.close()

    @staticmethod
    def _item(
        origin: str, index: int, item: Any, reject: RejectFn
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        where = f"{origin}#{index}"
        if isinstance(item, dict):
            yield where, item, json_text(item)
        else:
            reject(where, "not a JSON object")


def _peek(stream: IO[bytes], size: int) -> bytes:
    peek = getattr(stream, "peek", None)
    if peek is None:
        return b""
    data: bytes = peek(size)
    return data


def nested(path: str) -> Callable[[dict[str, Any]], Any]:
    """A getter for a dotted path, for adjust hooks."""
    parts = split_path(path)
    return lambda record: get(record, parts)
