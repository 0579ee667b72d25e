"""Inventory import: 100,000 rows (CSV with a secret per row) into a fresh SQLite workspace.

Target (issue 2): under 10 s on this machine. Reference: the bare cost of reading the same CSV
with the csv module and one HMAC per row, so the ratio shows keyreaper's overhead.
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
from pathlib import Path

from bench.common import OUT, REPO, Runner, alternate, report

ROWS = 100_000
KINDS = ["api_token", "access_key", "service_account", "ssh_key", "db_role", "password"]

REFERENCE = """
import csv, hmac, hashlib, sys
key = b"k" * 32
n = 0
with open(sys.argv[1], newline="") as fh:
    for row in csv.DictReader(fh):
        hmac.new(key, row["secret"].encode(), hashlib.sha256).hexdigest()
        n += 1
print(n)
"""

KEYREAPER = """
import shutil, sys, tempfile
from pathlib import Path
from keyreaper.workspace import Workspace, init
from keyreaper.inventory.service import import_file
tmp = Path(tempfile.mkdtemp())
ws = Workspace(init(tmp))
rep = import_file(ws, Path(sys.argv[1]))
assert rep.inserted == int(sys.argv[2]) and not rep.errors, rep
ws.close()
shutil.rmtree(tmp)
"""


def generate(path: Path, rows: int = ROWS, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "provider",
                "kind",
                "identifier",
                "owner",
                "tags",
                "created",
                "claimed_status",
                "secret",
            ]
        )
        for i in range(rows):
            w.writerow(
                [
                    rng.choice(["okta", "aws", "github", "postgres", "redis", "ssh"]),
                    rng.choice(KINDS),
                    f"id-{i:07d}",
                    f"team-{i % 97}",
                    "prod;bench",
                    "2023-01-01",
                    "unused" if i % 50 == 0 else "",
                    "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=40)),
                ]
            )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    src = OUT / f"inventory-{ROWS}.csv"
    if not src.exists():
        generate(src)
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    timings = alternate(
        [
            Runner(
                "keyreaper inventory import",
                [sys.executable, "-c", KEYREAPER, str(src), str(ROWS)],
                env,
            ),
            Runner("csv + HMAC only (floor)", [sys.executable, "-c", REFERENCE, str(src)], env),
        ],
        rounds=3,
    )
    report(
        f"Inventory import, {ROWS:,} rows into SQLite (target < 10 s)",
        timings,
        reference="csv + HMAC only (floor)",
        command="make bench-import",
        notes="The floor only parses and fingerprints; keyreaper also validates, stores "
        "credentials, identifiers and fingerprints in one transaction, and audits the import.",
    )


if __name__ == "__main__":
    tempfile.tempdir = None
    main()
