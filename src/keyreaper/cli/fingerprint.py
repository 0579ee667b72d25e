"""keyreaper fingerprint: the analyst's lookup for a leaked value, never read from argv."""

from __future__ import annotations

import sys

import typer

from keyreaper.cli.context import workspace
from keyreaper.cli.output import choose, emit_object
from keyreaper.domain import Secret
from keyreaper.errors import KeyreaperError
from keyreaper.inventory import repo


def _read_secret() -> Secret:
    value = typer.prompt("secret", hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
    value = value.strip("\r\n")
    if not value.strip():
        raise KeyreaperError("no secret given on stdin or at the prompt")
    return Secret(value)


def register(app: typer.Typer) -> None:
    @app.command("fingerprint")
    def fingerprint_cmd(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Fingerprint a secret read from stdin (or a hidden prompt) and show what matches."""
        ws = workspace(ctx)
        secret = _read_secret()
        fps = ws.fingerprinter.all_versions(secret)
        del secret
        values = [f.value for f in fps]
        current = fps[-1]
        creds = repo.by_fingerprints(ws.db, values)
        marks = ", ".join("?" for _ in values)
        exposures = ws.db.query(
            "SELECT exposure, kind, evidence, credential_id FROM exposure_items"
            f" WHERE fingerprint IN ({marks}) ORDER BY exposure",
            values,
        )
        emit_object(
            {
                "fingerprint": str(current),
                "hint": current.hint,
                "key_version": current.key_version,
                "credentials": [dict(r) for r in creds],
                "exposures": [dict(r) for r in exposures],
            },
            choose(as_json),
            title="fingerprint",
        )
