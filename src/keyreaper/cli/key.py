"""keyreaper key: the workspace's fingerprint key ring."""

from __future__ import annotations

import typer

from keyreaper.cli.context import out, workspace
from keyreaper.cli.output import choose, emit
from keyreaper.store.audit import record
from keyreaper.workspace import KEY_FILE

key_app = typer.Typer(help="The fingerprint key ring.", no_args_is_help=True)


@key_app.command("list")
def list_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
) -> None:
    """List key versions (never the keys) and how many fingerprints use each."""
    ws = workspace(ctx)
    counts = {
        int(r["key_version"]): int(r["n"])
        for r in ws.db.query(
            "SELECT key_version, COUNT(*) AS n FROM credential_fingerprints GROUP BY key_version"
        )
    }
    rows = [
        {"version": v, "current": v == ws.keyring.current, "fingerprints": counts.get(v, 0)}
        for v in sorted(ws.keyring.keys)
    ]
    emit(rows, ["version", "current", "fingerprints"], choose(as_json))


@key_app.command("rotate")
def rotate_cmd(ctx: typer.Context) -> None:
    """Add a new key version; new fingerprints use it, old ones still match lookups."""
    ws = workspace(ctx)
    ring = ws.keyring.rotated()
    record(ws.db, "key.rotate", subject=f"v{ring.current}")
    ring.dump(ws.root / "keys" / KEY_FILE)
    out.print(f"fingerprint key is now version {ring.current}; older versions kept for lookups")


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")
