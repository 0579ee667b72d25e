"""keyreaper inventory: import, list and show credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from keyreaper.cli.context import err, out, workspace
from keyreaper.cli.output import choose, emit, emit_object
from keyreaper.domain import Credential
from keyreaper.errors import KeyreaperError
from keyreaper.inventory import repo
from keyreaper.inventory.service import import_file
from keyreaper.usage import store as usage_store

LIST_FIELDS = [
    "id",
    "provider",
    "kind",
    "identifiers",
    "name",
    "owner",
    "consumers",
    "privilege",
    "created",
    "last_rotated",
    "expires",
    "tags",
    "claimed_status",
    "claimed_by",
    "claimed_at",
    "fingerprint_hints",
]
TABLE_FIELDS = [
    "id",
    "provider",
    "kind",
    "owner",
    "privilege",
    "tags",
    "claimed_status",
    "fingerprint_hints",
]

inventory_app = typer.Typer(help="The credential inventory.", no_args_is_help=True)


def as_row(c: Credential) -> dict[str, Any]:
    claim = c.claim
    return {
        "id": c.id,
        "provider": c.provider,
        "kind": c.kind,
        "identifiers": list(c.identifiers),
        "name": c.name,
        "owner": c.owner,
        "consumers": list(c.consumers),
        "privilege": c.privilege,
        "created": c.created,
        "last_rotated": c.last_rotated,
        "expires": c.expires,
        "tags": list(c.tags),
        "claimed_status": claim.status if claim else "",
        "claimed_by": claim.claimant if claim else "",
        "claimed_at": claim.date if claim else "",
        "fingerprint_hints": [f.hint for f in c.fingerprints],
    }


@inventory_app.command("import")
def import_cmd(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="CSV, JSON or YAML files."),
    fmt: str | None = typer.Option(
        None, "--format", help="csv, json or yaml (default: by suffix)."
    ),
) -> None:
    """Import credentials; re-import updates, never duplicates. Secrets are fingerprinted and dropped."""
    ws = workspace(ctx)
    failed = 0
    for path in files:
        try:
            rep = import_file(ws, path, fmt)
        except KeyreaperError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            failed += 1
            continue
        for e in rep.errors:
            err.print(f"error: {e}", markup=False, highlight=False)
        if rep.unknown_columns:
            err.print(
                f"note: {path}: columns kept as extra fields: {', '.join(rep.unknown_columns)}",
                markup=False,
                highlight=False,
            )
        out.print(
            f"{path}: {rep.inserted} new, {rep.updated} updated, "
            f"{rep.secrets_fingerprinted} secrets fingerprinted and dropped, "
            f"{len(rep.errors)} rows rejected",
            markup=False,
            highlight=False,
        )
        failed += len(rep.errors)
    if failed:
        raise typer.Exit(1)


@inventory_app.command("list")
def list_cmd(
    ctx: typer.Context,
    provider: str | None = typer.Option(None, help="Only this provider."),
    kind: str | None = typer.Option(None, help="Only this kind."),
    owner: str | None = typer.Option(None, help="Only this owner."),
    tag: str | None = typer.Option(None, help="Only credentials with this tag."),
    as_json: bool = typer.Option(
        False, "--json", help="JSON output (fields in docs/cli/inventory.md)."
    ),
    as_csv: bool = typer.Option(False, "--csv", help="CSV output."),
) -> None:
    """List credentials, filtered by provider, kind, owner or tag."""
    ws = workspace(ctx)
    creds = repo.list_credentials(ws.db, repo.Filters(provider, kind, owner, tag))
    fmt = choose(as_json, as_csv)
    emit(
        [as_row(c) for c in creds],
        LIST_FIELDS if fmt.value != "table" else TABLE_FIELDS,
        fmt,
        title=f"{len(creds)} credentials",
        empty="no credentials match",
    )


@inventory_app.command("show")
def show_cmd(
    ctx: typer.Context,
    credential_id: str = typer.Argument(..., help="Credential id (or one of its identifiers)."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Show one credential: identifiers, fingerprints, claim, latest attestation, exposures."""
    ws = workspace(ctx)
    cred = repo.get(ws.db, credential_id)
    if cred is None:
        matches = repo.by_identifier(ws.db, credential_id)
        if len(matches) == 1:
            cred = repo.get(ws.db, matches[0]["id"])
    if cred is None:
        raise KeyreaperError(f"no credential {credential_id!r} in the inventory")
    row: dict[str, Any] = as_row(cred)
    row["fingerprints"] = [str(f.short) for f in cred.fingerprints]
    att = usage_store.latest(ws.db, cred.id)
    row["usage"] = (
        {
            "verdict": att.verdict.value,
            "last_use": att.last_use.isoformat() if att.last_use else None,
            "evidence": att.last_evidence,
            "computed_at": att.computed_at.isoformat(),
            "flags": list(att.flags),
        }
        if att
        else None
    )
    values = [f.value for f in cred.fingerprints]
    params: list[Any] = [cred.id, *values]
    marks = "".join(", ?" for _ in values)
    row["exposures"] = [
        dict(r)
        for r in ws.db.query(
            "SELECT exposure, kind, evidence FROM exposure_items"
            f" WHERE credential_id = ? OR fingerprint IN (NULL{marks}) ORDER BY exposure",
            params,
        )
    ]
    emit_object(row, choose(as_json), title=cred.id)


def register(app: typer.Typer) -> None:
    app.add_typer(inventory_app, name="inventory")
