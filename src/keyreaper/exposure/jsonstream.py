"""Streams a HAR with ijson's C backend, one entry at a time, under budgets.

We read `basic_parse` events (no prefixes) and build each entry ourselves: ijson's prefixed
events cost memory quadratic in nesting depth (a 400 KB file nested 200,000 deep exhausts
memory), and the builder is where duplicate keys and absurd depth are caught.
yajl's own error messages quote the input around the fault, which may be a secret, so only
their first line is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ijson.backends import yajl2_c as ijson_c

from keyreaper.errors import InputError, Location

MAX_DEPTH = 128  # Chromium's async initiator stacks nest a few dozen levels at most
BUF_SIZE = 1 << 20
MAX_READ = 64 << 20
MAX_STRING = 64 << 20  # a longer run of bytes without a quote is refused (see _Reader)


@dataclass(frozen=True)
class Part:
    """One top-level piece of a HAR: an entry (index >= 0) or another field of `log`."""

    kind: str  # "entry", "log_field" (a key of log but entries), "root_field", "mark"
    key: str
    index: int
    value: Any


class _Reader:
    """Feeds the parser, counting bytes for error messages and guarding against long strings.

    yajl re-reads a token that spans reads from its start, so a long string costs time
    quadratic in its length over the read size. Reads grow while no quote shows up (a base64
    body has none), and a quote-less run longer than `max_run` ends the input early; the
    caller then reports it instead of the parser's EOF error.
    """

    def __init__(self, fh: IO[bytes], max_run: int = MAX_STRING) -> None:
        self._fh = fh
        self.offset = 0
        self.max_run = max_run
        self.run = 0
        self.size = BUF_SIZE
        self.too_long = False

    def read(self, size: int = -1) -> bytes:
        if self.too_long or size == 0:  # ijson probes with read(0) for bytes vs str
            return b""
        data = self._fh.read(self.size)
        first = data.find(b'"')
        if first < 0:
            self.run += len(data)
            self.size = min(self.size * 2, MAX_READ)
            longest = self.run
        else:
            longest = self.run + first
            self.run = len(data) - data.rfind(b'"') - 1
            self.size = BUF_SIZE
        if longest > self.max_run:
            self.too_long = True
            return b""
        self.offset += len(data)
        return data


def _show(key: str) -> str:
    """A key for an error message, unless it might be a value (a secret used as a key)."""
    if len(key) <= 24 and key.replace("_", "").replace("-", "").isalnum():
        return repr(key)
    return f"(a key of {len(key)} characters)"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line.removeprefix("b'").removeprefix('b"')[:120]


class HarStream:
    """Iterates a HAR's parts in document order; raises InputError naming file and place."""

    def __init__(
        self, path: Path, max_depth: int = MAX_DEPTH, max_string: int = MAX_STRING
    ) -> None:
        self.path = path
        self.max_depth = max_depth
        self.max_string = max_string
        self.entries_seen = 0
        self.bytes_read = 0
        self.position = "document"  # where the parser is, for error messages

    def _where(self, reader: _Reader, inside: str) -> Location:
        return Location(str(self.path), None, f"{inside} near byte {reader.offset}")

    def parts(self) -> Iterator[Part]:
        with self.path.open("rb") as fh:
            reader = _Reader(fh, self.max_string)
            try:
                yield from self._walk(
                    reader, ijson_c.basic_parse(reader, buf_size=BUF_SIZE, use_float=True)
                )
            except InputError:
                raise
            except Exception as exc:  # ijson's errors are plain exceptions with yajl text
                inside = self.position
                message = _first_line(exc)
                if reader.too_long:
                    message = (
                        f"a value longer than {reader.max_run // 2**20} MB "
                        "(raise the body budget to read it)"
                    )
                if "premature EOF" in message or isinstance(exc, StopIteration | RuntimeError):
                    message = "the file ends before the JSON does (truncated HAR?)"
                raise InputError(
                    self._where(reader, inside), f"not a valid HAR: {message}"
                ) from None
            finally:
                self.bytes_read = reader.offset

    def _walk(self, reader: _Reader, events: Iterator[tuple[str, Any]]) -> Iterator[Part]:
        ev, _ = next(events, ("eof", None))
        if ev != "start_map":
            raise InputError(
                self._where(reader, "document"), "not a HAR: the top level is not a JSON object"
            )
        saw_log = False
        seen: set[str] = set()
        for ev, key in events:
            if ev == "end_map":
                break
            if key in seen:
                raise InputError(self._where(reader, "document"), f"duplicate key {_show(key)}")
            seen.add(key)
            if key == "log":
                saw_log = True
                yield Part("mark", "log_start", -1, None)
                yield from self._log(reader, events)
                yield Part("mark", "log_end", -1, None)
            else:
                where = f"'{key}'" if _show(key).startswith("'") else "a top-level field"
                yield Part("root_field", key, -1, self._value(reader, events, where))
        if not saw_log:
            raise InputError(self._where(reader, "document"), "not a HAR: no 'log' object")

    def _log(self, reader: _Reader, events: Iterator[tuple[str, Any]]) -> Iterator[Part]:
        ev, _ = next(events)
        if ev != "start_map":
            raise InputError(self._where(reader, "log"), "not a HAR: 'log' is not an object")
        seen: set[str] = set()
        for ev, key in events:
            if ev == "end_map":
                return
            if key in seen:
                raise InputError(self._where(reader, "log"), f"duplicate key {_show(key)} in 'log'")
            seen.add(key)
            if key == "entries":
                ev, _ = next(events)
                if ev != "start_array":
                    raise InputError(self._where(reader, "log.entries"), "'entries' is not a list")
                yield Part("mark", "entries_start", -1, None)
                for ev, _ in events:
                    if ev == "end_array":
                        yield Part("mark", "entries_end", -1, None)
                        break
                    if ev != "start_map":
                        raise InputError(
                            self._where(reader, f"entries[{self.entries_seen}]"),
                            "an entry is not an object",
                        )
                    self.position = f"entries[{self.entries_seen}]"
                    entry = self._build(reader, events, {}, self.position)
                    self.position = f"after entries[{self.entries_seen}]"
                    yield Part("entry", "entries", self.entries_seen, entry)
                    self.entries_seen += 1
            else:
                yield Part("log_field", key, -1, self._value(reader, events, f"log.{key}"))

    def _value(self, reader: _Reader, events: Iterator[tuple[str, Any]], where: str) -> Any:
        ev, value = next(events)
        if ev == "start_map":
            return self._build(reader, events, {}, where)
        if ev == "start_array":
            return self._build(reader, events, [], where)
        return self._scalar(reader, value, where)

    def _scalar(self, reader: _Reader, value: Any, where: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(self._where(reader, where), "a number is out of range")
        return value

    def _build(
        self,
        reader: _Reader,
        events: Iterator[tuple[str, Any]],
        root: dict[str, Any] | list[Any],
        where: str,
    ) -> Any:
        """Builds one container from the events after its start; checks depth and duplicates.

        The hot loop of HAR reading: `top` and whether it is a dict are kept in locals, and
        the events are tested in order of frequency."""
        stack: list[Any] = []
        keys: list[str | None] = []
        top: Any = root
        in_map = type(root) is dict
        key: str | None = None
        max_depth = self.max_depth
        for ev, value in events:
            if ev == "map_key":
                if value in top:
                    raise InputError(self._where(reader, where), f"duplicate key {_show(value)}")
                key = value
            elif ev == "string" or ev == "number" or ev == "boolean" or ev == "null":
                if type(value) is float and not math.isfinite(value):
                    raise InputError(self._where(reader, where), "a number is out of range")
                if in_map:
                    top[key] = value
                else:
                    top.append(value)
            elif ev == "start_map" or ev == "start_array":
                child: Any = {} if ev == "start_map" else []
                if in_map:
                    top[key] = child
                else:
                    top.append(child)
                stack.append(top)
                keys.append(key)
                if len(stack) >= max_depth:
                    raise InputError(
                        self._where(reader, where), f"nested deeper than {max_depth} levels"
                    )
                top, in_map = child, ev == "start_map"
            else:  # end_map, end_array
                if not stack:
                    return root
                top = stack.pop()
                in_map = type(top) is dict
                key = keys.pop()
        raise InputError(
            self._where(reader, where), "the file ends inside this value (truncated HAR?)"
        )


def array_items(
    path: Path, keys: tuple[str, ...] = ("items", "findings")
) -> Iterator[tuple[int, Any]]:
    """(index, element) of a top-level JSON array, or of the array under one of `keys` in a
    top-level object; built under the same depth and duplicate-key checks as HAR entries."""
    stream = HarStream(path)
    with path.open("rb") as fh:
        reader = _Reader(fh)
        events = ijson_c.basic_parse(reader, buf_size=BUF_SIZE, use_float=True)
        index = 0
        try:
            ev, _ = next(events, ("eof", None))
            if ev == "start_map":
                for ev, key in events:
                    if ev == "end_map":
                        raise InputError(
                            stream._where(reader, "document"), f"no list under {' or '.join(keys)}"
                        )
                    if key in keys:
                        ev, _ = next(events)
                        break
                    stream._value(reader, events, key)
            if ev != "start_array":
                raise InputError(stream._where(reader, "document"), "expected a JSON list")
            for ev, value in events:
                where = f"[{index}]"
                if ev == "end_array":
                    return
                if ev == "start_map":
                    yield index, stream._build(reader, events, {}, where)
                elif ev == "start_array":
                    yield index, stream._build(reader, events, [], where)
                else:
                    yield index, stream._scalar(reader, value, where)
                index += 1
        except InputError:
            raise
        except Exception as exc:
            message = _first_line(exc)
            if reader.too_long:
                message = f"a value longer than {reader.max_run // 2**20} MB"
            elif "premature EOF" in message or isinstance(exc, StopIteration | RuntimeError):
                message = "the file ends before the JSON does (truncated?)"
            raise InputError(
                stream._where(reader, f"[{index}]"), f"not valid JSON: {message}"
            ) from None
