"""Scan results as a table, JSON or SARIF 2.1.0. None of them carries a secret: a finding
holds only its fingerprint and hint, and the `secret` field is never serialized."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from keyreaper import __version__
from keyreaper.scan.findings import ScanFinding, Unscannable
from keyreaper.scan.rules import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def summary(
    findings: Sequence[ScanFinding], problems: Sequence[Unscannable], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "findings": len(findings),
        "new": sum(1 for f in findings if f.evidence != "baseline"),
        "unscannable": len(problems),
        **meta,
    }


def as_json(
    findings: Sequence[ScanFinding],
    problems: Sequence[Unscannable],
    meta: dict[str, Any],
    out: IO[str],
) -> None:
    body = {
        "summary": summary(findings, problems, meta),
        "findings": [f.to_dict() for f in findings],
        "unscannable": [p.to_dict() for p in problems],
    }
    json.dump(body, out, indent=2)
    out.write("\n")


def as_table(
    findings: Sequence[ScanFinding],
    problems: Sequence[Unscannable],
    meta: dict[str, Any],
    console: Console,
) -> None:
    if findings:
        table = Table(title=f"{len(findings)} finding(s)", header_style="bold")
        for col in ("rule", "location", "line", "label", "hint", "fingerprint", "liveness"):
            table.add_column(col, overflow="fold")
        for f in findings:
            where = f.location + (f" ({'+'.join(f.encodings)})" if f.encodings else "")
            if f.commit:
                where += f" {f.commit[:10]} {f.author} {f.date[:10]}"
            table.add_row(f.rule, where, str(f.line), f.label, f.hint, f.fingerprint[:16],
                          f.liveness + (f" {f.evidence}" if f.evidence and f.liveness else ""))  # fmt: skip
        console.print(table)
    else:
        console.print("[green]no findings[/green]")
    for p in problems:
        console.print(f"[yellow]unscannable[/yellow] {p.location}: {p.reason}", highlight=False)
    for note in meta.get("notes", []):
        console.print(f"[dim]{note}[/dim]", highlight=False)


def _level(f: ScanFinding) -> str:
    if f.liveness == "LIVE":
        return "error"
    return "note" if f.kind == "identifier" else "warning"


def as_sarif(
    findings: Sequence[ScanFinding],
    problems: Sequence[Unscannable],
    rules: Sequence[Rule],
    meta: dict[str, Any],
    out: IO[str],
) -> None:
    used = sorted({f.rule for f in findings})
    index = {rid: i for i, rid in enumerate(used)}
    by_id = {r.id: r for r in rules}
    results = []
    for f in findings:
        region: dict[str, Any] = {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)}
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _level(f),
            "message": {"text": f"{f.title} ({f.hint})"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.location.replace("\\", "/")},
                "region": region,
            }}],
            "partialFingerprints": {"keyreaper/v1": f.fingerprint},
            "properties": {k: v for k, v in f.to_dict().items() if k in (
                "provider", "kind", "label", "encodings", "hint", "identifier", "commit",
                "author", "date", "liveness", "evidence", "occurrences", "key_version")},
        }  # fmt: skip
        results.append(result)
    driver_rules = [
        {
            "id": rid,
            "name": rid.replace("-", " "),
            "shortDescription": {"text": by_id[rid].title if rid in by_id else rid},
            "properties": {"provider": by_id[rid].provider if rid in by_id else ""},
        }
        for rid in used
    ]
    notifications = [
        {"level": "warning", "message": {"text": f"{p.location}: {p.reason}"}} for p in problems
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "keyreaper", "version": __version__,
                                "informationUri": "https://github.com/keyreaper/keyreaper",
                                "rules": driver_rules}},
            "results": results,
            "invocations": [{"executionSuccessful": True,
                             "toolExecutionNotifications": notifications}],
            "properties": {k: v for k, v in meta.items() if isinstance(v, (str, int, float, list))},
        }],
    }  # fmt: skip
    json.dump(log, out, indent=2)
    out.write("\n")
