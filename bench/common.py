"""Shared benchmark harness: alternate A/B runs, medians, min-max, ratios, peak RSS, and a
row appended to docs/benchmarks.md with date, commit, machine and the reproducing command."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "benchmarks.md"
OUT = REPO / "bench" / "out"


@dataclass
class Runner:
    """One contestant: a command line run in a subprocess (so RSS is its own)."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    check: Callable[[subprocess.CompletedProcess[bytes]], str] | None = None


@dataclass
class Timing:
    name: str
    seconds: list[float]
    peak_rss_mb: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _run_once(r: Runner) -> tuple[float, float, str]:
    """Wall time and peak RSS via GNU time if present, else resource usage of children."""
    gnu_time = Path("/usr/bin/time")
    argv = list(r.argv)
    rss_file = OUT / f".rss-{os.getpid()}"
    if gnu_time.exists():
        argv = [str(gnu_time), "-f", "%M", "-o", str(rss_file), *argv]
    env = {**os.environ, **r.env}
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=r.cwd, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
        raise RuntimeError(f"{r.name} exited {proc.returncode}")
    rss = float("nan")
    if rss_file.exists():
        try:
            rss = int(rss_file.read_text().split()[-1]) / 1024
        finally:
            rss_file.unlink()
    note = r.check(proc) if r.check else ""
    return wall, rss, note


def alternate(runners: Sequence[Runner], rounds: int = 3) -> list[Timing]:
    """Run A B A B ... so drift on a shared machine hits every contestant alike."""
    OUT.mkdir(parents=True, exist_ok=True)
    timings = {r.name: Timing(r.name, [], []) for r in runners}
    for _ in range(rounds):
        for r in runners:
            wall, rss, note = _run_once(r)
            t = timings[r.name]
            t.seconds.append(wall)
            t.peak_rss_mb.append(rss)
            t.note = note or t.note
    return list(timings.values())


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.machine()}"


def report(
    title: str, timings: Sequence[Timing], reference: str, command: str, notes: str = ""
) -> str:
    """Format a markdown section and append it to docs/benchmarks.md; returns it."""
    ref = next(t for t in timings if t.name == reference)
    lines = [
        f"### {title} — {dt.date.today().isoformat()}, commit {commit()}, {machine()}",
        "",
        f"Reproduce: `{command}`",
        "",
        "| contestant | median s | min–max s | speed vs reference | peak RSS MB | note |",
        "|---|---|---|---|---|---|",
    ]
    for t in timings:
        # A note is one table cell: no progress bars or newlines from a contestant's output.
        t.note = " ".join(t.note.replace("\r", "\n").splitlines()[-1:]).strip()[:120]
        ratio = ref.median / t.median if t.median else float("inf")
        lines.append(
            f"| {t.name} | {t.median:.2f} | {min(t.seconds):.2f}–{max(t.seconds):.2f} | "
            f"{ratio:.2f}× | {max(t.peak_rss_mb):.0f} | {t.note} |"
        )
    if notes:
        lines += ["", notes]
    text = "\n".join(lines) + "\n\n"
    RESULTS.parent.mkdir(exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmarks\n\nSee ../bench/ and BENCHMARKS rules: peers run side by side, "
            "alternating, in one run; speed is reference median / contestant median.\n\n"
        )
    with RESULTS.open("a") as fh:
        fh.write(text)
    print(text)
    return text
