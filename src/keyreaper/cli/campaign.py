"""keyreaper campaign: plan, show, run, status and except — rotation to verified death."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer

from keyreaper import rotate
from keyreaper.cli.context import err, workspace
from keyreaper.cli.output import choose, emit, emit_object
from keyreaper.inventory import repo
from keyreaper.rotate import exceptions, runner, status, targets, watch
from keyreaper.rotate.plan import plan as make_plan
from keyreaper.store.audit import record
from keyreaper.workspace import Workspace

PLAN_COLUMNS = [
    "item",
    "provider",
    "kind",
    "action",
    "usage",
    "exposures",
    "step",
    "state",
    "reason",
]
OPEN_COLUMNS = ["item", "provider", "action", "step", "state", "severity", "attempts", "why"]
STEP_COLUMNS = ["step", "items", "runs", "total_seconds", "mean_seconds", "max_seconds"]


def _targets_path(ws: Workspace, given: Path | None) -> Path:
    return given if given is not None else ws.root / "targets.toml"


class _Display:
    """Live counts on stderr: a redrawn line on a terminal, a line every 5 s otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, counts: dict[str, int]) -> None:
        if not self.enabled:
            return
        line = runner.describe(counts, time.monotonic() - self.started)
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
            sys.stderr.flush()
        elif time.monotonic() - self.last >= 5:
            err.print(line, highlight=False)
            self.last = time.monotonic()

    def close(self, counts: dict[str, int]) -> None:
        if self.enabled:
            if self.tty:
                sys.stderr.write("\n")
            err.print(runner.describe(counts, time.monotonic() - self.started), highlight=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Rotation campaigns that end only when every old credential is verified dead.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="campaign")

    @group.command("plan")
    def plan_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Campaign name."),
        exposure: str | None = typer.Option(
            None, "--exposure", help="Credentials named by this exposure."
        ),
        all_exposed: bool = typer.Option(
            False, "--all-exposed", help="Credentials named by any exposure."
        ),
        select: str | None = typer.Option(
            None, "--select", help="Filter, e.g. 'provider=okta,kind=api_token'."
        ),
        everything: bool = typer.Option(
            False, "--all", help="Every credential in the inventory (Code Red)."
        ),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Write the plan: every credential with its action (rotate, revoke, blocked) and why."""
        ws = workspace(ctx)
        decisions = make_plan(
            ws.db,
            name,
            exposure=exposure,
            all_exposed=all_exposed,
            select=select,
            everything=everything,
        )
        rows = status.plan_rows(rotate.journal(ws, name))
        emit(
            rows, PLAN_COLUMNS, choose(as_json), title=f"campaign {name}: {len(decisions)} item(s)"
        )

    @group.command("show")
    def show_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Campaign name."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Show the plan and where each item is."""
        ws = workspace(ctx)
        emit(
            status.plan_rows(rotate.journal(ws, name)),
            PLAN_COLUMNS,
            choose(as_json),
            title=f"campaign {name}",
        )

    @group.command("run")
    def run_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Campaign name."),
        targets_file: Path | None = typer.Option(
            None, "--targets", help="Targets file (default: <workspace>/targets.toml)."
        ),
        retry_manual: bool = typer.Option(
            False, "--retry-manual", help="Put needs_manual items back in the queue first."
        ),
        max_wait: float | None = typer.Option(
            None, "--max-wait", help="Stop when only waiting work is left for this many seconds."
        ),
        progress: bool = typer.Option(
            True, "--progress/--no-progress", help="Live progress on stderr."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the final counts as JSON."),
    ) -> None:
        """Run (or resume) the campaign until every item is dead, excepted, blocked or needs_manual."""
        ws = workspace(ctx)
        loaded = targets.load(_targets_path(ws, targets_file))
        engine = rotate.engine(ws, name, loaded)
        if retry_manual:
            _retry_manual(engine.journal)
        display = _Display(progress and not as_json)
        with rotate.run_lock(ws, name):
            counts = runner.run(
                engine,
                events_dir=ws.events_dir,
                progress=display if display.enabled else None,
                max_wait=max_wait,
            )
        display.close(counts)
        if as_json:
            emit_object(dict(counts), choose(True))
        if counts["needs_manual"] or counts["remaining"] or counts["failing"] or counts["rotated"]:
            raise typer.Exit(1)

    @group.command("discover")
    def discover_cmd(
        ctx: typer.Context,
        targets_file: Path | None = typer.Option(
            None, "--targets", help="Targets file (default: <workspace>/targets.toml)."
        ),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Pull each configured provider's inventory (pg_roles, ACL LIST, authorized_keys) into the store."""
        ws = workspace(ctx)
        loaded = targets.load(_targets_path(ws, targets_file))
        rows = []
        for name, target in loaded.providers.items():
            creds = list(target.provider.inventory())
            repo.upsert(ws.db, creds, f"provider:{name}")
            record(ws.db, "inventory.discover", subject=name, outcome=f"{len(creds)} credential(s)")
            rows += [
                {
                    "id": c.id,
                    "provider": c.provider,
                    "kind": c.kind,
                    "name": c.name,
                    "owner": c.owner,
                }
                for c in creds
            ]
        emit(rows, ["id", "provider", "kind", "name", "owner"], choose(as_json), title="discovered")

    @group.command("status")
    def status_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Campaign name."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Counts, every item not verified dead with why, and time per step."""
        ws = workspace(ctx)
        journal = rotate.journal(ws, name)
        exceptions.expire(journal)
        watch.check(journal, ws.events_dir)
        report = status.status(journal)
        if as_json:
            emit_object(report, choose(True))
            return
        from keyreaper.cli.context import out

        out.print(f"campaign {name}: " + runner.describe(report["counts"]), highlight=False)
        if report["critical"]:
            out.print(
                f"[bold red]{report['critical']} CRITICAL: old credential used after revocation[/bold red]"
            )
        emit(
            report["not_dead"],
            OPEN_COLUMNS,
            choose(False),
            title="not verified dead",
            empty="every item is verified dead",
        )
        emit(report["step_times"], STEP_COLUMNS, choose(False), title="time per step")

    @group.command("except")
    def except_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Campaign name."),
        item: str = typer.Argument(..., help="Item (credential id) to except."),
        reason: str = typer.Option(..., "--reason", help="Why this credential may stay alive."),
        approver: str = typer.Option(..., "--approver", help="Who approved it."),
        expires: str = typer.Option(
            ..., "--expires", help="ISO 8601 date or time; then it returns to the queue."
        ),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Except one item, with the attestation it relied on; it returns to the queue on expiry."""
        ws = workspace(ctx)
        result: dict[str, Any] = exceptions.grant(
            rotate.journal(ws, name), item, reason, approver, expires
        )
        emit_object(result, choose(as_json), title="exception recorded")


def _retry_manual(journal: rotate.Journal) -> None:
    with journal.lock:
        rows = journal.db.query(
            "SELECT credential_id FROM campaign_items WHERE campaign = ? AND state = 'needs_manual'",
            (journal.campaign,),
        )
    for r in rows:
        item = journal.item(r["credential_id"])
        journal.transition(
            item, item["step"], outcome="requeued by hand", state="pending", attempts=0, next_at=""
        )
