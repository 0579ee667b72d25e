"""Last use for 100,000 credentials over 10 million events, generated straight into the
event-store layout: keyreaper's last_use (links from the inventory, window, failures
excluded, last-use origin, IP/ASN/user-agent lists) against a hand-written DuckDB group-by
computing first, last, count and distinct IPs over the same Parquet files.

Sizes: KEYREAPER_BENCH_CREDS (100000), KEYREAPER_BENCH_EVENTS (10000000).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.common import OUT, REPO, Runner, alternate, report

ONCE = """
import sys
from datetime import datetime, timedelta, UTC
from keyreaper.workspace import Workspace
from keyreaper.events.store import EventStore
from keyreaper.inventory import repo
from keyreaper.usage.lastuse import last_use, links_for
ws = Workspace.open(sys.argv[1])
kinds = dict(ws.db.values("SELECT id, kind FROM credentials"))
store = EventStore(ws.events_dir)
links = links_for(repo.identifier_map(ws.db), kinds, store)
until = datetime(2026, 4, 1, tzinfo=UTC)
uses = last_use(store, links, until - timedelta(days=365), until, until - timedelta(days=7))
print(len(uses), sum(u.count for u in uses.values()))
"""

REFERENCE = """
import sys, glob, duckdb
files = sorted(glob.glob(sys.argv[1] + "/events/*/*.parquet"))
duckdb.execute("SET enable_progress_bar = false")
rows = duckdb.sql(
    "SELECT credential_id, min(time), max(time), count(*), count(DISTINCT src_ip)"
    f" FROM read_parquet({files!r}) GROUP BY credential_id").fetchall()
print(len(rows), sum(r[3] for r in rows))
"""


def _store(ws_root: str, creds: int, events: int) -> None:
    from datetime import UTC, datetime

    from keyreaper.domain import Credential
    from keyreaper.events.schema import EVENT_SCHEMA
    from keyreaper.events.store import EventStore
    from keyreaper.inventory import repo
    from keyreaper.workspace import Workspace

    ws = Workspace.open(ws_root)
    ids = [f"AKIA{i:016d}" for i in range(creds)]
    repo.upsert(
        ws.db,
        [Credential(f"aws:access_key:{k}", "aws", "access_key", (k,)) for k in ids],
        source="bench",
    )
    rng = np.random.default_rng(11)
    dictionary = pa.array(ids)
    ips = pa.array([f"198.51.{i // 256}.{i % 256}" for i in range(20_000)])
    start = int(datetime(2025, 4, 1, tzinfo=UTC).timestamp() * 1_000_000)
    span = 365 * 86_400 * 1_000_000 // 10  # each file covers its own tenth of the year
    store = EventStore(ws.events_dir)
    step = 1_000_000

    def batches(offset: int, n: int) -> pa.RecordBatch:
        cred = pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, creds, n, dtype=np.int32)), dictionary
        ).cast(pa.string())
        ip = pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, len(ips), n, dtype=np.int32)), ips
        ).cast(pa.string())
        part = offset // step
        times = pa.array(
            start + part * span + rng.integers(0, span, n), pa.timestamp("us", tz="UTC")
        )
        origin = pc.binary_join_element_wise(
            "gen:", pc.cast(pa.array(np.arange(offset, offset + n)), pa.string()), ""
        )
        cols = {f.name: pa.nulls(n, f.type) for f in EVENT_SCHEMA}
        cols.update(
            time=times,
            source=pa.array(["cloudtrail"] * n),
            event_type=pa.array(["GetCallerIdentity"] * n),
            outcome=pa.array(["success"] * n),
            credential_id=cred,
            src_ip=ip,
            raw=pa.array(["{}"] * n),
            origin=origin,
        )
        batch = pa.RecordBatch.from_pydict(cols, schema=EVENT_SCHEMA)
        # Real logs are written in time order; so is each generated file.
        return batch.take(pc.sort_indices(batch.column("time")))

    for i, offset in enumerate(range(0, events, step)):
        store.write("cloudtrail", [batches(offset, min(step, events - offset))], name=f"gen-{i}")
    ws.close()


def main() -> None:
    creds = int(os.environ.get("KEYREAPER_BENCH_CREDS", "100000"))
    events = int(os.environ.get("KEYREAPER_BENCH_EVENTS", "10000000"))
    sys.path.insert(0, str(REPO / "src"))
    from keyreaper.workspace import init

    folder = OUT / f"lastuse-{creds}-{events}-sorted"
    if not (folder / ".keyreaper" / "events").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        init(folder)
        _store(str(folder / ".keyreaper"), creds, events)
    root = str(folder / ".keyreaper")
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}"}

    def counts(proc: object) -> str:
        return proc.stdout.decode().strip()  # type: ignore[attr-defined]

    runners = [
        Runner("keyreaper last_use", [sys.executable, "-c", ONCE, root], env, check=counts),
        Runner(
            "hand-written DuckDB group-by",
            [sys.executable, "-c", REFERENCE, root],
            env,
            check=counts,
        ),
    ]
    timings = alternate(runners, rounds=int(os.environ.get("KEYREAPER_BENCH_ROUNDS", "3")))
    report(
        f"Last use: {creds:,} credentials × {events:,} events",
        timings,
        reference="hand-written DuckDB group-by",
        command=f"KEYREAPER_BENCH_CREDS={creds} KEYREAPER_BENCH_EVENTS={events}"
        " python bench/run.py lastuse",
        notes=(
            "keyreaper's side includes reading the 100k-credential inventory from SQLite,"
            " building the identifier links (incl. the issued-key lookup), the join, the"
            " window and failure filters, the last-use origin and the IP/ASN/user-agent lists;"
            " the reference computes first, last, count and distinct IPs only."
        ),
    )


if __name__ == "__main__":
    main()
