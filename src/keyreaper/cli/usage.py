"""keyreaper usage: proven last use — a USED / NOT_SEEN / UNKNOWN attestation per credential."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from keyreaper.cli.context import err, workspace
from keyreaper.cli.output import choose, emit
from keyreaper.errors import KeyreaperError
from keyreaper.usage.run import Request, compute
from keyreaper.usage.store import severity

COLUMNS = ["credential_id", "verdict", "last_use", "use_count", "distinct_ips", "flags", "gaps"]


def _date(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise KeyreaperError(f"{option}: expected a date like 2024-01-31, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    @app.command("usage")
    def usage_cmd(
        ctx: typer.Context,
        credential: str | None = typer.Option(None, "--credential", help="One credential id."),
        since: str | None = typer.Option(
            None, "--since", help="Window start (ISO date/time, UTC); default usage.window_days."
        ),
        until: str | None = typer.Option(None, "--until", help="Window end; default now."),
        no_save: bool = typer.Option(False, "--no-save", help="Do not store the attestations."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
        as_csv: bool = typer.Option(False, "--csv", help="CSV output."),
    ) -> int:
        """Attest each credential's use over a window; exit 1 if any flag is critical."""
        ws = workspace(ctx)
        creds, result = compute(
            ws,
            Request(
                credential=credential,
                since=_date(since, "--since"),
                until=_date(until, "--until"),
                save=not no_save,
            ),
        )
        by_id = {c.id: c for c in creds}
        rows = []
        for a in result:
            cred = by_id[a.credential_id]
            rows.append(
                {
                    "credential_id": a.credential_id,
                    "provider": cred.provider,
                    "kind": cred.kind,
                    "claim": cred.claim.status if cred.claim else "",
                    "verdict": a.verdict.value,
                    "severity": severity(a),
                    "window_start": a.window_start.isoformat(),
                    "window_end": a.window_end.isoformat(),
                    "first_use": a.first_use.isoformat() if a.first_use else None,
                    "last_use": a.last_use.isoformat() if a.last_use else None,
                    "use_count": a.use_count,
                    "distinct_ips": list(a.distinct_ips),
                    "distinct_asns": list(a.distinct_asns),
                    "distinct_user_agents": list(a.distinct_user_agents),
                    "last_evidence": a.last_evidence,
                    "sources_searched": list(a.sources_searched),
                    "gaps": list(a.gaps),
                    "flags": list(a.flags),
                }
            )
        fmt = choose(as_json, as_csv)
        emit(rows, COLUMNS, fmt, title="usage attestations", empty="no credentials")
        critical = [r for r in rows if r["severity"] == "critical"]
        for r in critical:
            err.print(
                f"CRITICAL {r['credential_id']}: claimed unused but used "
                f"{r['use_count']}x, last {r['last_use']} at {r['last_evidence']}",
                highlight=False,
                markup=False,
            )
        return 1 if critical else 0
