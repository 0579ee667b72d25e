"""Hostile input: huge single lines, binary and invalid UTF-8, a pathological string for every
rule (each under 100 ms on 1 MB), and peak memory of a whole scan under 1 GB."""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keyreaper.scan import rules as rules_mod
from keyreaper.scan.engine import Engine
from tests.scan.conftest import github_token

MB = 1 << 20


def adversarial(rule: rules_mod.Rule) -> bytes:
    """Keywords, separators and long runs of token characters that never complete a match:
    the shapes that make a backtracking regex go quadratic."""
    kw = rule.keywords[0].encode()
    example = rule.positive[0].encode()
    chunk = (
        kw
        + b' = "'
        + b"Ab1+/_-" * 40
        + b"\n"
        + example[: len(example) * 2 // 3]
        + b"\t"
        + kw
        + b":"
        + b"a" * 300
    )
    return (chunk * (MB // len(chunk) + 1))[:MB]


RULES = rules_mod.load()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_pathological_input_per_rule_under_100ms(rule: rules_mod.Rule) -> None:
    one = Engine([rule], max_depth=0)  # this rule alone: prefilter, extraction, checks
    data = adversarial(rule)
    one.scan(data[:4096])  # warm up
    best = _timed(one, data)
    for _ in range(2):  # a shared machine: measure again before failing
        if best >= 0.100:
            best = min(best, _timed(one, data))
    assert best < 0.100, f"{rule.id}: {best * 1000:.0f} ms on 1 MB"


def test_decoders_on_adversarial_input(engine: Engine) -> None:
    shapes = [
        b"QUJD" * (MB // 4),
        (b"%41" * 300 + b" ") * (MB // 901),
        (b'\\"a' * 200 + b"\n") * (MB // 801),
        # JSON string values that each trigger the line view (values as lines of their own)
        (b'{"k": "x\\n", "j": "A=1 ' + b'\\"' * 2000 + b'"}\n') * (MB // 4030),
        b'": "' + b"a" * (MB - 4),  # one value that never closes
        b"Content-Transfer-Encoding: quoted-printable\n" + b"=41=\n" * (MB // 6),
    ]
    for data in shapes:
        assert _timed(engine, data) < 1.0


def _timed(engine: Engine, data: bytes) -> float:
    # CPU time of this process: the machine is shared, wall time measures the neighbours
    t = time.process_time()
    engine.scan(data)
    return time.process_time() - t


def test_binary_and_invalid_utf8(engine: Engine) -> None:
    rng = random.Random(5)
    noise = bytes(rng.getrandbits(8) for _ in range(200_000))
    tok = github_token(seed=41)
    data = (
        noise[:100_000] + b"\xff\xfe\xc3(" + f"T={tok}".encode() + b"\xed\xa0\x80" + noise[100_000:]
    )
    assert tok in {m.value for m in engine.scan(data)}


def test_huge_single_line_and_memory(tmp_path: Path) -> None:
    tok = github_token(seed=42)
    piece = b'var a="k";function f(x){return x+1};'
    line = piece * (100 * MB // len(piece))
    (tmp_path / "min.js").write_bytes(line[: 50 * MB] + f"t='{tok}';".encode() + line[50 * MB :])
    (tmp_path / "bin.dat").write_bytes(os.urandom(2 * MB))
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "keyreaper", "scan", "--format", "json", str(tmp_path)],
                          capture_output=True, timeout=300)  # fmt: skip
    elapsed = time.monotonic() - t
    body = json.loads(proc.stdout)
    assert [f["rule"] for f in body["findings"]] == ["github-pat"]
    assert body["findings"][0]["line"] == 1
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"
    assert elapsed < 120
