"""`make demo`: the main job on the bundled example incident, step by step.

Creates ./demo-workspace (recreated each run) and walks the flow that exists: workspace,
inventory with claims, the analyst's fingerprint lookup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "incident"
WS = REPO / "demo-workspace"


def step(title: str, *args: str, stdin: str | None = None, ok: tuple[int, ...] = (0,)) -> None:
    print(f"\n\033[1m== {title}\033[0m\n$ keyreaper {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "keyreaper", "--workspace", str(WS), *args],
        input=stdin,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": os.environ.get("COLUMNS", "160")},
    )
    if proc.returncode not in ok:
        sys.exit(f"demo step failed ({proc.returncode}): {title}")


def main() -> None:
    shutil.rmtree(WS, ignore_errors=True)
    WS.mkdir()
    subprocess.run([sys.executable, "-m", "keyreaper", "init", str(WS)], check=True)
    step(
        "Inventory: every credential, with who claims what",
        "inventory",
        "import",
        str(EXAMPLE / "inventory.csv"),
    )
    step("Credentials someone claims are unused", "inventory", "list", "--tag", "prod")
    step("One credential in detail", "inventory", "show", "smartsheet-svc")
    step(
        "An analyst looks up a leaked value (stdin, never argv)",
        "fingerprint",
        stdin="an-unknown-leaked-value-0123456789\n",
    )
    print("\nworkspace:", WS)


if __name__ == "__main__":
    main()
