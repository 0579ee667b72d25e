"""keyreaper report: one self-contained HTML file of the incident, from the stored state."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import typer

from keyreaper.cli.context import out, workspace
from keyreaper.errors import KeyreaperError


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        ctx: typer.Context,
        out_file: Path = typer.Option(
            Path("keyreaper-report.html"), "--out", help="HTML file to write."
        ),
        since: str | None = typer.Option(
            None, "--since", help="Hits, coverage and timeline from (ISO time or 30d)."
        ),
        until: str | None = typer.Option(
            None, "--until", help="... before this time (ISO), exclusive; default now."
        ),
        campaign: list[str] = typer.Option(
            [], "--campaign", help="Only this campaign (repeatable); default every campaign."
        ),
    ) -> None:
        """Write the incident report: campaigns, exposures, usage, hunts, gaps, timeline, IoCs."""
        from keyreaper.hunt.run import parse_time
        from keyreaper.report import data, html

        start, end = parse_time(since), parse_time(until)
        if start and end and start >= end:
            raise KeyreaperError(f"--since {since} is not before --until {until}")
        report = data.gather(workspace(ctx), start, end, campaign)
        text = html.render(report)
        # Written beside the target and renamed: a reader never sees half a report.
        tmp = out_file.with_name(f".{out_file.name}.tmp")
        try:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, out_file)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise KeyreaperError(f"{out_file}: cannot write the report: {exc.strerror}") from exc
        out.print(f"wrote {out_file}", highlight=False, markup=False)
        out.print(report.verdict(), highlight=False, markup=False)
