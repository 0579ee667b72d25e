"""Import files into the inventory: parse, then upsert in one transaction per file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from keyreaper.inventory import repo
from keyreaper.inventory.importer import RowError, parse_file
from keyreaper.store.audit import record
from keyreaper.workspace import Workspace


@dataclass
class ImportReport:
    path: str
    inserted: int = 0
    updated: int = 0
    secrets_fingerprinted: int = 0
    errors: list[RowError] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)


def import_file(ws: Workspace, path: Path, fmt: str | None = None) -> ImportReport:
    parsed = parse_file(path, ws.fingerprinter, fmt)
    # Later rows win when a file names one credential twice.
    creds = list({c.id: c for c in parsed.credentials}.values())
    existing = {r["id"] for r in ws.db.query("SELECT id FROM credentials")}
    report = ImportReport(
        path=str(path),
        inserted=sum(c.id not in existing for c in creds),
        updated=sum(c.id in existing for c in creds),
        secrets_fingerprinted=parsed.secrets_fingerprinted,
        errors=parsed.errors,
        unknown_columns=sorted(parsed.unknown_columns),
    )
    with ws.db.transaction():
        record(
            ws.db,
            "inventory.import",
            subject=str(path),
            outcome=f"{report.inserted} new, {report.updated} updated, {len(report.errors)} bad",
        )
        repo.upsert(ws.db, creds, source=str(path), existing=existing)
    return report
