"""Baselines: the fingerprints of findings already known, so CI reports only new ones.

A baseline holds fingerprints (HMACs), never secrets, plus a check value — the HMAC of a fixed
string under the same key — so a baseline made under another key is refused instead of
silently matching nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from keyreaper.domain import Secret
from keyreaper.errors import InputError, KeyreaperError, Location
from keyreaper.fingerprint import Fingerprinter
from keyreaper.scan.findings import ScanFinding

FORMAT = "keyreaper-scan-baseline"
_CHECK = "keyreaper baseline key check v1"


def key_check(fp: Fingerprinter) -> str:
    return fp.fingerprint(Secret(_CHECK)).value[:16]


def write(path: Path, findings: Sequence[ScanFinding], fp: Fingerprinter) -> int:
    entries = sorted({(f.fingerprint, f.rule) for f in findings})
    body = {
        "format": FORMAT,
        "version": 1,
        "key_check": key_check(fp),
        "findings": [{"fingerprint": f, "rule": r} for f, r in entries],
    }
    path.write_text(json.dumps(body, indent=2) + "\n")
    return len(entries)


def load(path: Path, fp: Fingerprinter) -> set[str]:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(Location(str(path)), f"cannot read baseline ({exc})") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise InputError(Location(str(path)), "not a keyreaper scan baseline")
    if body.get("key_check") != key_check(fp):
        raise KeyreaperError(
            f"{path}: baseline was made with another fingerprint key; use the same workspace "
            "or KEYREAPER_SCAN_KEY that wrote it"
        )
    return {str(e["fingerprint"]) for e in body.get("findings", []) if isinstance(e, dict)}
