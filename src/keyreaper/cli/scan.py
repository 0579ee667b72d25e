"""keyreaper scan: find secrets in folders, git history, exports, HAR files and archives."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from keyreaper.cli.context import err, out, state
from keyreaper.errors import KeyreaperError, WorkspaceError
from keyreaper.fingerprint import Fingerprinter, KeyRing
from keyreaper.scan import baseline, intake, parallel, report
from keyreaper.scan import rules as rules_mod
from keyreaper.scan.engine import Engine
from keyreaper.scan.items import Item, Limits, Problem
from keyreaper.scan.scanner import Scanner
from keyreaper.scan.sources import archives, files, git
from keyreaper.workspace import Workspace

KEY_ENV = "KEYREAPER_SCAN_KEY"


def _fingerprinter(
    ctx: typer.Context, need_workspace: bool
) -> tuple[KeyRing, Workspace | None, str]:
    st = state(ctx)
    try:
        ws = st.workspace()
        return ws.keyring, ws, "fingerprints under the workspace key"
    except WorkspaceError:
        if need_workspace:
            raise
    key = os.environ.get(KEY_ENV, "")
    if key:
        try:
            raw = bytes.fromhex(key)
        except ValueError as exc:
            raise KeyreaperError(f"{KEY_ENV} must be hex") from exc
        if len(raw) < 32:
            raise KeyreaperError(f"{KEY_ENV} must hold at least 32 bytes (64 hex digits)")
        return KeyRing({1: raw}), None, f"fingerprints under {KEY_ENV}"
    note = "no workspace: fingerprints use a one-off random key and are not comparable between runs"
    return KeyRing.generate(), None, note


PARALLEL_MIN = 400  # below this many files, starting workers costs more than it saves


def _paths(targets: list[str], gitignore: bool) -> Iterator[str] | None:
    """Every file under the targets (walked lazily), or None when a target is not a plain
    folder or file."""
    for target in targets:
        if target == "-" or not Path(target).exists():
            return None
    return _walk(targets, gitignore)


def _walk(targets: list[str], gitignore: bool) -> Iterator[str]:
    for target in targets:
        root = Path(target)
        if root.is_file():
            yield target
        elif gitignore:
            yield from (str(p) for p in files.walk(root, gitignore) if isinstance(p, Path))
        else:
            yield from files.walk_names(target)


def _few_files(paths: Iterator[str]) -> tuple[bool, Iterator[str]]:
    """Whether the walk holds fewer than PARALLEL_MIN files, and the walk itself again."""
    head = list(itertools.islice(paths, PARALLEL_MIN))
    return len(head) < PARALLEL_MIN, itertools.chain(head, paths)


def _can_fork(targets: list[str]) -> bool:
    """History scans run on forked workers when every target is a repository."""
    return multiprocessing.get_all_start_methods().count("fork") > 0 and all(
        t != "-" and git.is_repo(Path(t)) for t in targets
    )


def _endpoints(values: list[str]) -> dict[str, str]:
    out_: dict[str, str] = {}
    for v in values:
        name, sep, url = v.partition("=")
        if not sep or not name:
            raise KeyreaperError(f"--endpoint takes NAME=URL, got {v!r}")
        out_[name.strip()] = url.strip()
    return out_


def _sources(
    targets: list[str], use_git: bool, gitignore: bool, limits: Limits
) -> Iterator[Item | Problem]:
    for target in targets:
        if use_git and target != "-":
            # items come located at the path, commit, author and date that introduced them
            for entry in git.items(Path(target), limits):
                yield from archives.expand(entry, limits) if isinstance(entry, Item) else [entry]
        else:
            yield from files.items(target, limits, gitignore)


def register(app: typer.Typer) -> None:
    @app.command("scan")
    def scan_cmd(
        ctx: typer.Context,
        targets: list[str] = typer.Argument(
            ..., help="Files, folders, archives or git repositories; - for standard input."
        ),
        fmt: str = typer.Option("table", "--format", "-f", help="table, json or sarif."),
        output: Path | None = typer.Option(
            None, "--output", "-o", help="Write the report to this file."
        ),
        use_git: bool = typer.Option(
            False, "--git", help="Scan the full git history of each target repository."
        ),
        gitignore: bool = typer.Option(
            False, "--gitignore", help="Skip files git ignores (folders inside a git work tree)."
        ),
        baseline_file: Path | None = typer.Option(
            None,
            "--baseline",
            help="Report only findings whose fingerprint is not in this baseline.",
        ),
        write_baseline: Path | None = typer.Option(
            None, "--write-baseline", help="Write all findings' fingerprints to this baseline file."
        ),
        validate: bool = typer.Option(
            False,
            "--validate",
            help="Ask providers whether found secrets work (network calls; off by default).",
        ),
        endpoint: list[str] = typer.Option(
            [], "--endpoint", help="Override a validator base URL: NAME=URL (repeatable)."
        ),
        validate_interval: float = typer.Option(
            0.5, "--validate-interval", help="Minimum seconds between calls to one provider."
        ),
        confirm_delay: float = typer.Option(
            2.0, "--confirm-delay", help="Seconds between the two refusals that make DEAD."
        ),
        into_workspace: bool = typer.Option(
            False,
            "--into-workspace",
            help="Record findings as an exposure and unknown secrets as orphan credentials.",
        ),
        exposure: str = typer.Option(
            "", "--exposure", help="Exposure name for --into-workspace (default scan-<time>)."
        ),
        rules_file: list[Path] = typer.Option(
            [], "--rules", help="Extra rules file (TOML); repeatable."
        ),
        max_depth: int = typer.Option(6, "--max-depth", help="Archive nesting depth."),
        decode_depth: int = typer.Option(
            3, "--decode-depth", help="Nested decoding depth (base64 in URL-encoding ...)."
        ),
        item_seconds: float = typer.Option(
            20.0, "--item-timeout", help="Seconds per item before it is reported partly scanned."
        ),
        max_item_mb: int = typer.Option(256, "--max-item-mb", help="Bytes read per item, in MiB."),
        progress: bool = typer.Option(
            True, "--progress/--no-progress", help="Progress bar on a terminal."
        ),
        pure_re: bool = typer.Option(
            False, "--pure-re", hidden=True, help="Force the pure-re engine (testing)."
        ),
        exit_zero: bool = typer.Option(
            False, "--exit-zero", help="Exit 0 even when there are new findings."
        ),
        jobs: int = typer.Option(
            0, "--jobs", "-j", help="Worker processes for folder scans (0: one per core)."
        ),
    ) -> int:
        """Scan for secrets. Exit 0: no new findings; 1: new findings; 2: bad usage or input."""
        if fmt not in ("table", "json", "sarif"):
            raise KeyreaperError(f"--format must be table, json or sarif, not {fmt!r}")
        ring, ws, key_note = _fingerprinter(ctx, into_workspace)
        fp = Fingerprinter(ring)
        limits = Limits(max_item_bytes=max_item_mb << 20, item_seconds=item_seconds,
                        max_depth=max_depth, decode_depth=decode_depth)  # fmt: skip
        rule_list = rules_mod.load(rules_file)
        engine = Engine(rule_list, force_re=pure_re, max_depth=decode_depth)
        notes = [key_note]
        if engine.backend != "hyperscan":
            notes.append("hyperscan is not available: using the slower pure-re engine")
        show = progress and sys.stderr.isatty() and "-" not in targets
        bar = Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                       console=err, transient=True) if show else None  # fmt: skip
        with bar if bar is not None else nullcontext():
            task = bar.add_task("scan", total=None) if bar is not None else None
            tick = (
                (lambda n: bar.advance(task, n)) if bar is not None and task is not None else None
            )
            scanner = Scanner(engine, fp, limits, keep_secrets=validate, progress=tick)
            paths = None if use_git or validate or jobs == 1 else _paths(targets, gitignore)
            workers = jobs or os.cpu_count() or 1
            few, paths = _few_files(paths) if paths is not None else (True, None)
            git_parallel = use_git and not validate and workers > 1 and _can_fork(targets)
            if git_parallel or (paths is not None and not few and workers > 1):
                findings = []
                runs = (
                    itertools.chain.from_iterable(
                        parallel.scan_history(Path(t), workers, engine, ring.keys, limits)
                        for t in targets
                    )
                    if git_parallel
                    else parallel.scan_paths(
                        paths or iter(()), workers, engine, ring.keys, limits, rules_file, pure_re
                    )
                )
                for found, problems, n_items, n_bytes in runs:
                    findings.extend(found)
                    scanner.problems.extend(problems)
                    scanner.stats.items += n_items
                    scanner.stats.bytes += n_bytes
                    if tick:
                        tick(n_bytes)
                findings.sort(key=lambda f: (f.location, f.line, f.rule))
                scanner.problems.sort(key=lambda p: p.location)
            else:
                findings = list(scanner.run(_sources(targets, use_git, gitignore, limits)))
        if validate:
            from keyreaper.scan.validate import Validator

            v = Validator(_endpoints(endpoint), validate_interval, confirm_delay)
            try:
                for f in findings:
                    if f.validator:
                        verdict = v.check(f)
                        f.liveness, f.evidence = verdict.liveness, verdict.evidence
            finally:
                v.close()
        for f in findings:
            f.secret = f.connect = None  # nothing past this point may see a secret
        if write_baseline is not None:
            n = baseline.write(write_baseline, findings, fp)
            notes.append(f"wrote {n} fingerprints to {write_baseline}")
        new = findings
        if baseline_file is not None:
            if ws is None and not os.environ.get(KEY_ENV):
                raise KeyreaperError(
                    "--baseline needs a workspace or KEYREAPER_SCAN_KEY: one-off keys never match"
                )
            known = baseline.load(baseline_file, fp)
            new = [f for f in findings if f.fingerprint not in known]
            notes.append(f"{len(findings) - len(new)} finding(s) already in the baseline")
        if into_workspace and ws is not None:
            name = exposure or "scan-" + __import__("datetime").datetime.now().strftime(
                "%Y%m%dT%H%M%S"
            )
            counts = intake.record(ws, name, new, "keyreaper scan " + " ".join(targets))
            notes.append(
                f"exposure {name}: {counts['items']} items, {counts['matched']} matched, {counts['orphans']} orphan(s)"
            )
        st = scanner.stats
        meta: dict[str, Any] = {"engine": engine.backend, "rules": len(rule_list), "items": st.items,
                                "bytes": st.bytes, "seconds": round(st.seconds, 3), "notes": notes}  # fmt: skip
        sink = open(output, "w") if output else None  # noqa: SIM115
        try:
            stream = sink or sys.stdout
            if fmt == "json":
                report.as_json(new, scanner.problems, meta, stream)
            elif fmt == "sarif":
                report.as_sarif(new, scanner.problems, rule_list, meta, stream)
            else:
                from rich.console import Console

                report.as_table(
                    new, scanner.problems, meta, Console(file=sink, soft_wrap=True) if sink else out
                )
        finally:
            if sink:
                sink.close()
        if fmt != "table":
            err.print(f"{len(new)} new finding(s), {len(scanner.problems)} unscannable, "
                      f"{st.bytes / max(st.seconds, 1e-6) / 1e6:.1f} MB/s ({engine.backend})", highlight=False)  # fmt: skip
        return 1 if new and not exit_zero else 0
