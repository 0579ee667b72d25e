"""Breach lists (CSV/JSON/text of identifiers or raw secrets) and secret-scanner findings.

Scanner findings contract (docs/cli/exposure.md): a JSON list, or {"findings": [...]}, of
objects with rule_id, location, fingerprint ("hmac-sha256:v1:<hex>" or 64 hex with
key_version), hint, and optionally identifier and date. Fingerprints must be computed under
this workspace's key: the scanner runs in the same workspace.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyreaper.domain import Fingerprint
from keyreaper.exposure.jsonstream import array_items

MAX_LINE = 1 << 20  # a CSV field or text line longer than this is refused, not read

_IDENT_COLS = [
    "identifier",
    "id",
    "token_id",
    "key_id",
    "access_key_id",
    "username",
    "user",
    "user_name",
    "login",
    "email",
    "session_id",
    "client_id",
    "account",
]
_SECRET_COLS = ["secret", "value", "token", "password", "api_key", "key", "secret_value", "raw"]
_KIND_COLS = ("kind", "type")
_DATE_COLS = ("date", "time", "seen_at", "leaked_at", "timestamp", "exposed_at")
_FP_RE = re.compile(r"^(?:hmac-sha256:v(\d+):)?([0-9a-f]{64})$")


@dataclass
class Record:
    """One line of a list: a raw secret, a fingerprint, or an identifier (or a pair)."""

    kind: str
    where: str
    plaintext: str = ""
    fingerprint: Fingerprint | None = None
    identifier: str = ""
    time: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def parse_time(text: Any) -> datetime | None:
    """ISO 8601 (Z allowed) or epoch seconds; naive times are taken as UTC."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _pick(row: dict[str, Any], names: tuple[str, ...] | list[str]) -> tuple[str, Any]:
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    for name in names:
        value = lowered.get(name)
        if value not in (None, ""):
            return name, value
    return "", None


def _from_row(
    row: dict[str, Any], where: str, raw_secrets: bool, warnings: list[str]
) -> Record | None:
    ident_col, ident = _pick(row, _IDENT_COLS)
    secret_col, secret = _pick(row, _SECRET_COLS)
    _, kind = _pick(row, _KIND_COLS)
    _, date = _pick(row, _DATE_COLS)
    if ident is None and secret is None:
        warnings.append(f"{where}: no identifier or secret column with a value; skipped")
        return None
    time = parse_time(date)
    if date is not None and time is None:
        warnings.append(f"{where}: unreadable date; kept without it")
    return Record(
        kind=str(kind or ("leaked_secret" if secret is not None else "leaked_identifier")),
        where=where,
        plaintext=str(secret) if secret is not None else "",
        identifier=str(ident) if ident is not None else "",
        time=time,
        evidence={"columns": [c for c in (ident_col, secret_col) if c]},
    )


def read_csv(path: Path, raw_secrets: bool, warnings: list[str]) -> Iterator[Record]:
    with path.open("rb") as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
        csv.field_size_limit(MAX_LINE)
        reader = csv.DictReader(text)
        line = 1
        try:
            for row in reader:
                line = reader.line_num
                record = _from_row(row, f"{path}:{line}", raw_secrets, warnings)
                if record:
                    yield record
        except csv.Error as exc:
            warnings.append(
                f"{path}:{reader.line_num}: unreadable CSV ({str(exc)[:80]}); the rest is skipped"
            )


def read_lines(path: Path, raw_secrets: bool, warnings: list[str]) -> Iterator[Record]:
    """One identifier (or, with raw_secrets, one secret) per line; '#' starts a comment."""
    with path.open("rb") as fh:
        for number, raw in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), b""), 1):
            if len(raw) > MAX_LINE:
                warnings.append(f"{path}:{number}: line longer than {MAX_LINE} bytes; skipped")
                while raw and not raw.endswith(b"\n"):
                    raw = fh.readline(MAX_LINE + 1)
                continue
            value = raw.decode("utf-8", "replace").strip().lstrip("\ufeff")
            if not value or value.startswith("#"):
                continue
            if raw_secrets:
                yield Record("leaked_secret", f"{path}:{number}", plaintext=value)
            else:
                yield Record("leaked_identifier", f"{path}:{number}", identifier=value)


def read_json_list(path: Path, raw_secrets: bool, warnings: list[str]) -> Iterator[Record]:
    for index, item in array_items(path, ("items", "identifiers", "secrets")):
        where = f"{path}:[{index}]"
        if isinstance(item, str):
            if raw_secrets:
                yield Record("leaked_secret", where, plaintext=item)
            else:
                yield Record("leaked_identifier", where, identifier=item)
        elif isinstance(item, dict):
            record = _from_row(item, where, raw_secrets, warnings)
            if record:
                yield record
        else:
            warnings.append(f"{where}: neither a string nor an object; skipped")


def read_findings(path: Path, key_versions: set[int], warnings: list[str]) -> Iterator[Record]:
    """Secret-scanner findings: fingerprints only, never values."""
    for index, item in array_items(path, ("findings",)):
        where = f"{path}:[{index}]"
        if not isinstance(item, dict):
            warnings.append(f"{where}: a finding is not an object; skipped")
            continue
        # `keyreaper scan --format json` writes "rule"; other tools may write "rule_id".
        rule = item.get("rule_id", item.get("rule"))
        location, fp = item.get("location"), item.get("fingerprint")
        if not isinstance(rule, str) or not isinstance(location, str) or not isinstance(fp, str):
            warnings.append(f"{where}: needs rule_id, location and fingerprint; skipped")
            continue
        m = _FP_RE.match(fp.strip().lower())
        version = item.get("key_version")
        if m is None:
            warnings.append(f"{where}: fingerprint is not hmac-sha256 hex; skipped")
            continue
        version = int(m.group(1)) if m.group(1) else version
        if not isinstance(version, int) or version not in key_versions:
            warnings.append(
                f"{where}: key_version {version!r} is not held by this workspace; skipped"
            )
            continue
        hint = _text(item.get("hint"))
        ident = _text(item.get("identifier"))
        time = parse_time(item.get("date"))
        yield Record(
            kind=f"finding:{rule}"[:80],
            where=where,
            fingerprint=Fingerprint(m.group(2), version, hint[:40]),
            identifier=ident,
            time=time,
            evidence={"rule_id": rule, "location": location[:300]},
        )
