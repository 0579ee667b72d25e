"""keyreaper hunt: indicators, packs and Sigma over the event store; sweep; coverage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keyreaper.cli.context import err, workspace
from keyreaper.cli.output import choose, emit
from keyreaper.errors import KeyreaperError

if TYPE_CHECKING:
    from keyreaper.hunt.store import Hit

# The hunt modules are imported inside each command: a command pays only for what it runs
# (DuckDB, pySigma, ...), and `keyreaper hunt --help` for none of it.

HIT_COLUMNS = ["time", "kind", "hunt", "source", "event_type", "outcome", "actor", "credential",
               "inventory_id", "src_ip", "indicator", "matched_field", "origin"]  # fmt: skip


def _write_json(obj: object) -> None:
    # One write: json.dump to stdout issues a write per token, seconds for thousands of hits.
    # Large outputs are written compact: the indenting encoder is pure Python, ten times slower.
    big = (isinstance(obj, list) and len(obj) > 500) or (
        isinstance(obj, dict) and len(obj.get("hits", ())) > 500
    )
    sys.stdout.write(json.dumps(obj, indent=None if big else 2, default=str) + "\n")


def _hit_rows(hits: list[Hit]) -> list[dict[str, object]]:
    return [h.row() for h in hits]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Hunt: indicators, built-in packs and Sigma rules over the event store."
    )
    app.add_typer(group, name="hunt")

    @group.callback(invoke_without_command=True)
    def hunt_cmd(
        ctx: typer.Context,
        since: str | None = typer.Option(None, "--since", help="Start (ISO time or 30d)."),
        until: str | None = typer.Option(None, "--until", help="End, exclusive (ISO time or 1d)."),
        sigma: list[Path] = typer.Option(
            [], "--sigma", help="Sigma rule file or folder (repeatable)."
        ),
        pack: list[str] = typer.Option(
            [], "--pack", help="Run only these built-in packs (repeatable)."
        ),
        no_iocs: bool = typer.Option(False, "--no-iocs", help="Skip indicator matching."),
        no_packs: bool = typer.Option(False, "--no-packs", help="Skip the built-in packs."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Run indicators, built-in packs and Sigma rules; hits are stored with evidence."""
        if ctx.invoked_subcommand is not None:
            return
        from keyreaper.hunt.run import hunt, parse_time
        from keyreaper.store.audit import record

        ws = workspace(ctx)
        res = hunt(ws, parse_time(since), parse_time(until), sigma, pack, not no_iocs, not no_packs)
        record(
            ws.db, "hunt.run", outcome="ok", detail=f"{len(res.hits)} hits, {len(res.notes)} notes"
        )
        notes = [{"rule": n.rule, "source": n.source, "reason": n.reason} for n in res.notes]
        errors = [{"rule": r, "error": e} for r, e in res.errors]
        if as_json:
            _write_json(
                {"hits": _hit_rows(res.hits), "coverage_notes": notes, "rule_errors": errors}
            )
            return
        emit(_hit_rows(res.hits), HIT_COLUMNS, choose(False), title=f"{len(res.hits)} hunt hits",
             empty="no hits")  # fmt: skip
        if notes:
            err.print(
                f"[bold yellow]{len(notes)} coverage notes (these rules could not see):[/bold yellow]"
            )
            for n in notes:
                err.print(f"  [yellow]GAP[/yellow] {n['rule']} {n['source']}: {n['reason']}")
        for e in errors:
            err.print(f"  [red]rule error[/red] {e['rule']}: {e['error']}")

    @group.command("sweep")
    def sweep_cmd(
        ctx: typer.Context,
        principal: str = typer.Argument(
            ..., help="Actor name/id, key id, or inventory credential id."
        ),
        since: str = typer.Option(..., "--since", help="T0: look from here (ISO time or 30d)."),
        until: str | None = typer.Option(None, "--until", help="End, exclusive."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
        as_csv: bool = typer.Option(False, "--csv", help="CSV output."),
    ) -> None:
        """Everything PRINCIPAL created or changed since T0 (users, grants, tokens, keys, apps, plugins)."""
        from keyreaper.hunt import store
        from keyreaper.hunt import sweep as sw
        from keyreaper.hunt.run import connect, parse_time
        from keyreaper.hunt.timeline import identifiers
        from keyreaper.store.audit import record

        ws = workspace(ctx)
        names = identifiers(ws.db, principal)
        con = connect(ws)
        try:
            hits = sw.sweep(con, sorted(names), parse_time(since), parse_time(until))
        finally:
            con.close()
        store.save_hits(ws.db, hits)
        record(ws.db, "hunt.sweep", subject=principal, outcome="ok", detail=f"{len(hits)} changes")
        rows = [{**h.row(), "what": h.detail["what"]} for h in hits]
        emit(rows, ["time", "what", "event_type", "outcome", "source", "actor", "target", "src_ip", "origin"],
             choose(as_json, as_csv), title=f"changes by {principal}", empty="no changes found")  # fmt: skip

    @group.command("coverage")
    def coverage_cmd(
        ctx: typer.Context,
        since: str | None = typer.Option(None, "--since", help="Start (ISO time or 30d)."),
        until: str | None = typer.Option(None, "--until", help="End, exclusive."),
        pack: list[str] = typer.Option([], "--pack", help="Only these packs."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
        as_csv: bool = typer.Option(False, "--csv", help="CSV output."),
    ) -> None:
        """Per hunt and source: the event types needed and whether the store has them."""
        from keyreaper.hunt import coverage as cov
        from keyreaper.hunt import packs
        from keyreaper.hunt.run import connect, parse_time

        ws = workspace(ctx)
        con = connect(ws)
        try:
            rows = cov.coverage(con, packs.select(pack), parse_time(since), parse_time(until))
        finally:
            con.close()
        fmt = choose(as_json, as_csv)
        emit(rows, ["hunt", "source", "event_type", "events", "status", "hunt_blind"], fmt,
             title="hunt coverage")  # fmt: skip
        gaps = [r for r in rows if r["status"] != "ok"]
        if gaps and not as_json and not as_csv:
            blind = sorted({r["hunt"] for r in rows if r["hunt_blind"]})
            err.print(f"[bold red]{len(gaps)} coverage gaps[/bold red]; hunts blind over this window: "
                      f"{', '.join(blind) or 'none'}")  # fmt: skip

    @group.command("raw")
    def raw_cmd(
        ctx: typer.Context,
        files: list[Path] = typer.Argument(..., help="JSON-lines (or text) log files."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
        as_csv: bool = typer.Option(False, "--csv", help="CSV output."),
    ) -> None:
        """Match the imported indicators against log files directly, without ingesting them."""
        from keyreaper.hunt import rawscan, store

        ws = workspace(ctx)
        for f in files:
            if not f.is_file():
                raise KeyreaperError(f"{f}: no such file")
        found = rawscan.scan(files, store.load_indicators(ws.db), ws.root / "hunt_index")
        rows = [{"origin": f"{h.path}@{h.offset}", "indicator_type": h.indicator.type,
                 "indicator": h.indicator.value, "matched_field": h.field,
                 "description": h.indicator.description} for h in found]  # fmt: skip
        if as_json:
            _write_json(rows)
            return
        emit(rows, ["origin", "indicator_type", "indicator", "matched_field", "description"],
             choose(as_json, as_csv), title=f"{len(rows)} matches", empty="no matches")  # fmt: skip

    @group.command("packs")
    def packs_cmd(as_json: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
        """List the built-in hunt packs."""
        from keyreaper.hunt import packs

        rows = [{"id": p.id, "kind": p.kind, "title": p.title, "file": p.path.name,
                 "needs": [f"{s}:{t}" for s, t in p.needs], "description": p.description}
                for p in packs.builtin()]  # fmt: skip
        emit(rows, ["id", "kind", "title", "needs"], choose(as_json), title="hunt packs")
