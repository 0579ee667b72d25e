"""Option values converted without pydantic give what typer's own conversion gives: the same
values and types for plain input, the same errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import contextlib, io, json, sys
from pathlib import Path
import typer
if sys.argv[1] == "fast":
    from keyreaper.cli import fastparams
    fastparams.install()
app = typer.Typer(add_completion=False)
@app.command()
def cmd(
    n: int = typer.Option(0, "--n"), f: float = typer.Option(0.5, "--f"),
    s: str | None = typer.Option(None, "--s"), p: Path | None = typer.Option(None, "--p"),
    names: list[str] = typer.Option([], "--name"), paths: list[Path] = typer.Option([], "--path"),
    b: bool = typer.Option(False, "--b/--no-b"), lim: int = typer.Option(1, "--lim", min=1, max=5),
    must: Path | None = typer.Option(None, "--must", exists=True, dir_okay=False),
) -> None:
    print(json.dumps([n, f, s, p and str(p), names, [str(x) for x in paths], b, lim,
                      must and str(must), type(p).__name__, [type(x).__name__ for x in paths],
                      type(f).__name__]))
results = []
for args in json.loads(sys.argv[2]):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            app(args, standalone_mode=False)
            outcome = "ok"
        except Exception as exc:
            outcome = type(exc).__name__ + ": " + (exc.format_message() if hasattr(exc, "format_message") else str(exc))
    results.append([outcome, buf.getvalue()])
print(json.dumps(results))
print(json.dumps(sorted(m for m in ("pydantic",) if m in sys.modules)))
"""

CASES = [
    [], ["--n", "42"], ["--n", "-7"], ["--n", "+5"], ["--n", "007"], ["--n", "1_000"],
    ["--n", " 5"], ["--n", "abc"], ["--n", "1.5"], ["--f", "2"], ["--f", "-1.5e3"], ["--f", ".5"],
    ["--f", "nan"], ["--f", "x"], ["--s", "hello"], ["--s", ""], ["--p", "some/file.txt"],
    ["--p", ""], ["--name", "a", "--name", "b"], ["--path", "x", "--path", "/tmp"],
    ["--b"], ["--no-b"], ["--lim", "3"], ["--lim", "9"], ["--must", "/nonexistent/kr"],
    ["--must", "/tmp"], ["--must", __file__],
]  # fmt: skip


def _run(mode: str) -> tuple[list[list[str]], list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, json.dumps(CASES)],
        capture_output=True,
        text=True,
        check=True,
    )
    results, loaded = proc.stdout.strip().splitlines()[-2:]
    return json.loads(results), json.loads(loaded)


def test_plain_conversion_agrees_with_typer() -> None:
    typer_results, _ = _run("typer")
    fast_results, _ = _run("fast")
    for case, want, got in zip(CASES, typer_results, fast_results, strict=True):
        assert got == want, case
    assert typer_results[1][1].startswith("[42,")  # the cases did run the command


def test_plain_values_need_no_pydantic(tmp_path: Path) -> None:
    pytest.importorskip("typer._coercion")  # a typer without the pydantic layer: nothing to do
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "fast", json.dumps([["--n", "3", "--p", "x"]])],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
