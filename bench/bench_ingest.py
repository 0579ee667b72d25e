"""Ingest of Okta-shaped JSON lines: `keyreaper logs ingest` (normalizing, raw record kept,
file hashed for dedupe) against DuckDB's own read_json → Parquet of the same file.

Size: KEYREAPER_BENCH_INGEST_MB (default 1024 = 1 GiB). Each keyreaper run uses a fresh
workspace so the dedupe table does not skip the file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.common import OUT, REPO, Runner, alternate, report
from bench.corpus import okta_lines

ONCE = """
import shutil, sys, tempfile
from pathlib import Path
from keyreaper.cli import main
from keyreaper.workspace import init
tmp = Path(tempfile.mkdtemp(prefix="kr-bench-"))
try:
    root = init(tmp)
    sys.exit(main(["-w", str(root), "logs", "ingest", "--no-progress", "--json", sys.argv[1]]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
"""

REFERENCE = """
import sys, duckdb
duckdb.execute("SET enable_progress_bar = false")
duckdb.sql(f"COPY (SELECT * FROM read_json('{sys.argv[1]}', format='newline_delimited'))"
           f" TO '{sys.argv[2]}' (FORMAT parquet)")
"""


def _events(proc: object) -> str:
    import json

    out = json.loads(proc.stdout)  # type: ignore[attr-defined]
    return f"{out[0]['events']:,} events, status {out[0]['status']}"


def main() -> None:
    mb = int(os.environ.get("KEYREAPER_BENCH_INGEST_MB", "1024"))
    corpus = okta_lines(OUT / f"okta-{mb}m.ndjson", mb << 20)
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    runners = [
        Runner(
            "keyreaper logs ingest", [sys.executable, "-c", ONCE, str(corpus)], env, check=_events
        ),
        Runner(
            "duckdb read_json → Parquet",
            [sys.executable, "-c", REFERENCE, str(corpus), str(OUT / "reference.parquet")],
            env,
        ),
    ]
    timings = alternate(runners, rounds=int(os.environ.get("KEYREAPER_BENCH_ROUNDS", "3")))
    report(
        f"Ingest {mb} MiB of Okta-shaped JSON lines",
        timings,
        reference="duckdb read_json → Parquet",
        command=f"KEYREAPER_BENCH_INGEST_MB={mb} python bench/run.py ingest",
        notes=(
            "keyreaper does more than the reference: it maps every record to the normalized"
            " schema, keeps the raw record and its origin (file:line), and hashes the file for"
            " dedupe. Generated logs compress far better than real ones. "
            f"Corpus: {corpus.stat().st_size / 2**20:.0f} MiB, seeded (bench/corpus.py)."
        ),
    )
    Path(OUT / "reference.parquet").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
