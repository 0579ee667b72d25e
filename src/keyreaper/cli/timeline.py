"""keyreaper timeline: hits, exposures, first uses, actions and sweeps in time order."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from keyreaper.cli.context import err, workspace
from keyreaper.cli.output import choose, emit
from keyreaper.hunt import timeline as tl
from keyreaper.hunt.run import connect, parse_time

COLUMNS = ["time", "lane", "what", "actor", "credential", "source", "src_ip", "evidence"]


def register(app: typer.Typer) -> None:
    @app.command("timeline")
    def timeline_cmd(
        ctx: typer.Context,
        credential: str | None = typer.Option(
            None, "--credential", help="Only this inventory credential (or identifier)."
        ),
        actor: str | None = typer.Option(None, "--actor", help="Only this actor."),
        since: str | None = typer.Option(None, "--since", help="From (ISO time or 30d)."),
        until: str | None = typer.Option(None, "--until", help="Before (ISO time), exclusive."),
        picture: Path | None = typer.Option(
            None, "--picture", help="Also draw it to a .png or .svg file."
        ),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
        as_csv: bool = typer.Option(False, "--csv", help="CSV output."),
    ) -> None:
        """The merged incident timeline."""
        ws = workspace(ctx)
        con = connect(ws)
        try:
            rows = tl.build(ws.db, con, credential, actor, parse_time(since))
        finally:
            con.close()
        end = parse_time(until)
        if end:  # e.g. leave out today's operator actions when drawing a past incident
            rows = [r for r in rows if datetime.fromisoformat(r["time"]) < end]
        emit(
            rows,
            COLUMNS,
            choose(as_json, as_csv),
            title="incident timeline",
            empty="nothing on the timeline",
        )
        if picture:
            tl.picture(rows, picture)
            err.print(f"wrote {picture}")
