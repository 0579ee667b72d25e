"""keyreaper ioc: import indicators (STIX 2.1, MISP, CSV, pasted text), list and share them."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from keyreaper.cli.context import err, out, workspace
from keyreaper.cli.output import choose, emit
from keyreaper.errors import KeyreaperError
from keyreaper.hunt import store
from keyreaper.hunt.indicators import defang
from keyreaper.hunt.ioc_formats import to_stix, to_table
from keyreaper.store.audit import record

COLUMNS = [
    "type",
    "value",
    "defanged",
    "source",
    "description",
    "valid_from",
    "valid_until",
    "hits",
]


def register(app: typer.Typer) -> None:
    ioc = typer.Typer(help="Indicators of compromise: import, list, export.", no_args_is_help=True)
    app.add_typer(ioc, name="ioc")

    @ioc.command("import")
    def import_cmd(
        ctx: typer.Context,
        files: list[Path] = typer.Argument(..., help="Files to read; '-' reads stdin as text."),
        fmt: str = typer.Option("auto", "--format", help="auto, stix, misp, csv or text."),
        source: str | None = typer.Option(
            None, "--source", help="Provenance to record instead of the file name."
        ),
    ) -> None:
        """Import indicators; defanged values are refanged and classified."""
        if fmt not in store.FORMATS:
            raise KeyreaperError(f"--format must be one of {', '.join(store.FORMATS)}")
        ws = workspace(ctx)
        total, failed = 0, 0
        for path in files:
            try:
                if str(path) == "-":
                    from keyreaper.hunt.indicators import parse_text

                    found, problems = (
                        list(parse_text(sys.stdin.read(), source or "stdin")),
                        list[str](),
                    )
                else:
                    found, problems = store.read_file(path, fmt)
            except KeyreaperError as exc:
                err.print(f"[red]error:[/red] {exc}")
                failed += 1
                continue
            if source:
                found = [
                    type(i)(i.type, i.value, source, i.description, i.valid_from, i.valid_until)
                    for i in found
                ]
            for p in problems:
                err.print(f"[yellow]skipped:[/yellow] {p}")
            n = store.save_indicators(ws.db, found)
            record(ws.db, "ioc.import", subject=str(path), outcome="ok", detail=f"{n} indicators")
            out.print(f"{path}: {n} indicators")
            total += n
        out.print(f"imported {total} indicators")
        if failed:
            raise typer.Exit(1)

    @ioc.command("list")
    def list_cmd(
        ctx: typer.Context,
        confirmed: bool = typer.Option(
            False, "--confirmed", help="Only indicators hit at least once."
        ),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
        as_csv: bool = typer.Option(False, "--csv", help="CSV output."),
    ) -> None:
        """List indicators with their provenance, validity window and hit count."""
        ws = workspace(ctx)
        counts = store.hit_counts(ws.db)
        rows = [
            {
                "type": i.type,
                "value": i.value,
                "defanged": defang(i),
                "source": i.source,
                "description": i.description,
                "valid_from": i.valid_from.isoformat() if i.valid_from else None,
                "valid_until": i.valid_until.isoformat() if i.valid_until else None,
                "hits": counts.get((i.type, i.value), 0),
            }
            for i in store.load_indicators(ws.db, confirmed_only=confirmed)
        ]
        emit(rows, COLUMNS, choose(as_json, as_csv), title="indicators")

    @ioc.command("export")
    def export_cmd(
        ctx: typer.Context,
        stix: Path | None = typer.Option(None, "--stix", help="Write a STIX 2.1 bundle here."),
        table: bool = typer.Option(False, "--table", help="Print a defanged markdown table."),
        include_all: bool = typer.Option(
            False, "--all", help="Every indicator, not only confirmed ones."
        ),
        producer: str = typer.Option(
            "keyreaper", "--producer", help="Identity named in the bundle."
        ),
    ) -> None:
        """Share the indicators confirmed in this incident (hit at least once)."""
        if not stix and not table:
            raise KeyreaperError("choose --stix FILE and/or --table")
        ws = workspace(ctx)
        inds = store.load_indicators(ws.db, confirmed_only=not include_all)
        if stix:
            stix.write_text(to_stix(inds, producer))
            err.print(f"wrote {len(inds)} indicators to {stix}")
        if table:
            sys.stdout.write(to_table(inds))
        record(
            ws.db, "ioc.export", subject=str(stix or "table"), outcome="ok", detail=f"{len(inds)}"
        )
