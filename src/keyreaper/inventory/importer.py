"""Inventory import from CSV, JSON (array, object with "credentials", or JSON lines) and YAML.

Each row becomes a Credential; a secret in the row is fingerprinted and dropped at once. A bad
row is reported with file, line and column and the rest still imports.
"""

from __future__ import annotations

import base64
import binascii
import csv
import functools
import io
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from keyreaper.domain import KINDS, Claim, Credential, Fingerprint, Secret
from keyreaper.errors import InputError, Location
from keyreaper.fingerprint import Fingerprinter

# Documented columns (docs/inventory.md); a test keeps the two in step.
COLUMNS: dict[str, str] = {
    "id": "Optional stable id; default provider:kind:first-identifier.",
    "provider": "System the credential belongs to (okta, aws, postgres, redis, ssh, github...).",
    "kind": "One of: " + ", ".join(KINDS) + ".",
    "identifier": "The credential's identifier(s) at its provider; several separated by ';'.",
    "identifiers": "Same as identifier (a list in JSON/YAML).",
    "name": "Human name.",
    "owner": "Owning person or team.",
    "consumers": "Systems or teams that use it, separated by ';'.",
    "privilege": "What it can do (free text, e.g. 'jira-admin').",
    "created": "Creation date (ISO 8601).",
    "last_rotated": "Date of the last rotation (ISO 8601).",
    "expires": "Expiry date (ISO 8601).",
    "tags": "Labels separated by ';'.",
    "claimed_status": "What somebody claims about it, e.g. 'unused'.",
    "claimed_by": "Who made the claim.",
    "claimed_at": "When the claim was made (ISO 8601).",
    "secret": "Optional secret value: fingerprinted on import and dropped, never stored.",
    "secret_encoding": "How `secret` is written: plain (default), base64 or url.",
}
_LIST_FIELDS = ("identifiers", "consumers", "tags")
_DATE_FIELDS = ("created", "last_rotated", "expires", "claimed_at")
_SPLIT = re.compile(r"\s*;\s*")


@dataclass
class RowError:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class ParsedFile:
    credentials: list[Credential] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    unknown_columns: set[str] = field(default_factory=set)
    secrets_fingerprinted: int = 0


@dataclass
class RawRow:
    """One input record with where each of its fields came from."""

    values: dict[str, Any]
    line: int
    field_lines: dict[str, int] = field(default_factory=dict)


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if ";" not in text:
        return [text] if text else []
    return [v for v in _SPLIT.split(text) if v]


def _as_date(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return _checked_date(str(value).strip())


@functools.lru_cache(maxsize=4096)  # inventories repeat dates; parse each text once
def _checked_date(text: str) -> str:
    try:
        if len(text) == 10:
            date.fromisoformat(text)
        else:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {text[:40]!r}") from None
    return text


def _decode_secret(value: str, encoding: str) -> Secret:
    encoding = (encoding or "plain").strip().lower()
    if encoding == "plain":
        return Secret(value)
    if encoding == "base64":
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("secret is not valid base64") from None
        return Secret(raw)
    if encoding == "url":
        return Secret(urllib.parse.unquote(value))
    raise ValueError(f"unknown secret_encoding {encoding!r} (plain, base64, url)")


class _FieldError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _text(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def to_credential(values: dict[str, Any], fp: Fingerprinter) -> tuple[Credential, bool]:
    """Build a Credential from one row; returns it and whether a secret was fingerprinted.

    This runs once per row of inventories with 100k+ rows, so it reads each field once."""
    provider = _text(values, "provider").lower()
    kind = _text(values, "kind").lower()
    if not provider:
        raise _FieldError("provider", "provider is required")
    if kind not in KINDS:
        raise _FieldError("kind", f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    idents = _as_list(values.get("identifier"))
    if "identifiers" in values:
        idents = list(dict.fromkeys(_as_list(values["identifiers"]) + idents))
    elif len(idents) > 1:
        idents = list(dict.fromkeys(idents))
    if not idents:
        raise _FieldError("identifier", "at least one identifier is required")
    dates: dict[str, str] = {}
    for name in _DATE_FIELDS:
        try:
            dates[name] = _as_date(values.get(name))
        except ValueError as exc:
            raise _FieldError(name, str(exc)) from None
    fingerprints: tuple[Fingerprint, ...] = ()
    secret_value = values.get("secret")
    had_secret = secret_value is not None and secret_value != ""
    if had_secret:
        try:
            secret = _decode_secret(str(secret_value), str(values.get("secret_encoding") or ""))
        except ValueError as exc:
            raise _FieldError("secret", str(exc)) from None
        fingerprints = (fp.fingerprint(secret),)
        del secret
    claim = None
    status = _text(values, "claimed_status").lower()
    if status:
        claim = Claim(status, _text(values, "claimed_by"), dates["claimed_at"])
    extra = {k: v for k, v in values.items() if k not in COLUMNS and v is not None and v != ""}
    cred_id = _text(values, "id") or Credential.make_id(provider, kind, idents[0])
    try:
        cred = Credential(
            id=cred_id,
            provider=provider,
            kind=kind,
            identifiers=tuple(idents),
            name=_text(values, "name"),
            owner=_text(values, "owner"),
            consumers=tuple(_as_list(values.get("consumers"))),
            privilege=_text(values, "privilege"),
            created=dates["created"],
            last_rotated=dates["last_rotated"],
            expires=dates["expires"],
            tags=tuple(_as_list(values.get("tags"))),
            claim=claim,
            fingerprints=fingerprints,
            extra=extra,
        )
    except ValueError as exc:
        raise _FieldError("provider", str(exc)) from None
    return cred, had_secret


def _csv_rows(text: str) -> Iterator[RawRow]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames:
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    line = reader.line_num + 1
    for row in reader:
        yield RawRow(row, line)
        line = reader.line_num + 1


def _json_rows(text: str, path: str) -> Iterator[RawRow]:
    stripped = text.lstrip()
    if not stripped:
        return
    if stripped[0] == "{" and "\n{" in stripped.rstrip():
        yield from _jsonl_rows(text, path)
        return
    decoder = json.JSONDecoder()
    pos = len(text) - len(stripped)
    try:
        doc, _ = decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise InputError(
            Location(path, exc.lineno, exc.colno), f"invalid JSON: {exc.msg}"
        ) from None
    start: int | None = pos
    if isinstance(doc, dict):
        doc = doc.get("credentials")
        found = _CREDENTIALS_KEY.search(text, pos)
        start = found.end() - 1 if found else None
    if not isinstance(doc, list):
        raise InputError(Location(path, 1), 'expected a JSON array or {"credentials": [...]}')
    lines = _element_lines(text, start, len(doc)) if start is not None else None
    for index, item in enumerate(doc):
        line = lines[index] if lines else 1
        if not isinstance(item, dict):
            yield RawRow({"__invalid__": type(item).__name__}, line)
        else:
            yield RawRow({str(k).strip().lower(): v for k, v in item.items()}, line)


_CREDENTIALS_KEY = re.compile(r'"credentials"\s*:\s*\[')


def _element_lines(text: str, start: int, count: int) -> list[int] | None:
    """The line each element of the array at `start` begins on, walking the text again for
    error locations; None when the text does not walk as expected (then line 1 is shown)."""
    decoder = json.JSONDecoder()
    lines: list[int] = []
    pos = start + 1
    try:
        for _ in range(count):
            while text[pos] in " \t\r\n,":
                pos += 1
            _, end = decoder.raw_decode(text, pos)
            lines.append(text.count("\n", 0, pos) + 1)
            pos = end
    except (IndexError, json.JSONDecodeError):
        return None
    return lines


def _jsonl_rows(text: str, path: str) -> Iterator[RawRow]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RawRow({"__invalid__": f"invalid JSON: {exc.msg} at column {exc.colno}"}, number)
            continue
        if not isinstance(item, dict):
            yield RawRow({"__invalid__": "not an object"}, number)
            continue
        yield RawRow({str(k).strip().lower(): v for k, v in item.items()}, number)


def _yaml_rows(text: str, path: str) -> Iterator[RawRow]:
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        at = text.count("\n", 0, exc.position) + 1
        raise InputError(Location(path, at), f"invalid YAML: {exc.reason}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "credentials":
                    node = value
                    break
        if not isinstance(node, yaml.SequenceNode):
            raise InputError(
                Location(path, node.start_mark.line + 1), "expected a list of credentials"
            )
        for item in node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.MappingNode):
                yield RawRow({"__invalid__": "not a mapping"}, line)
                continue
            data = loader.construct_mapping(item, deep=True)
            lines = {str(k.value).lower(): k.start_mark.line + 1 for k, _ in item.value}
            yield RawRow({str(k).strip().lower(): v for k, v in data.items()}, line, lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise InputError(Location(path, line), f"invalid YAML: {exc.problem}") from None
    finally:
        loader.dispose()


def detect_format(path: Path, explicit: str | None) -> str:
    if explicit:
        return explicit.lower()
    suffix = path.suffix.lower()
    return {
        ".csv": "csv",
        ".json": "json",
        ".jsonl": "json",
        ".ndjson": "json",
        ".yaml": "yaml",
        ".yml": "yaml",
    }.get(suffix, "csv")


def parse_file(path: Path, fp: Fingerprinter, fmt: str | None = None) -> ParsedFile:
    """Parse one inventory file; row errors are collected, file-level errors raise InputError."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Location(name), f"cannot read: {exc.strerror}") from None
    text = data.decode("utf-8-sig", errors="replace")
    kind = detect_format(path, fmt)
    if kind == "csv":
        rows: Iterator[RawRow] = _csv_rows(text)
    elif kind == "json":
        rows = _json_rows(text, name)
    elif kind == "yaml":
        rows = _yaml_rows(text, name)
    else:
        raise InputError(Location(name), f"unknown format {kind!r} (csv, json, yaml)")
    result = ParsedFile()
    seen_keys: set[frozenset[Any]] = set()
    last_keys: Any = None
    try:
        for row in rows:
            if "__invalid__" in row.values:
                result.errors.append(
                    RowError(Location(name, row.line), str(row.values["__invalid__"]))
                )
                continue
            if row.values.keys() != last_keys:  # CSV rows share one key set: compare, don't hash
                last_keys = row.values.keys()
                keys = frozenset(last_keys)
                if keys not in seen_keys:
                    seen_keys.add(keys)
                    result.unknown_columns.update(k for k in keys if k and k not in COLUMNS)
            if None in row.values:
                result.errors.append(RowError(Location(name, row.line), "more cells than columns"))
                continue
            try:
                cred, had_secret = to_credential(row.values, fp)
            except _FieldError as exc:
                line = row.field_lines.get(exc.column, row.line)
                result.errors.append(RowError(Location(name, line, exc.column), str(exc)))
                continue
            result.credentials.append(cred)
            result.secrets_fingerprinted += had_secret
    except csv.Error as exc:
        raise InputError(Location(name), f"invalid CSV: {exc}") from None
    return result
