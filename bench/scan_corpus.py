"""Labelled corpus for the scanner benchmark: a real source tree already on disk (packages in
site-packages, hard-linked, never modified) with planted secrets of every rule in four forms
(plain, base64, URL-encoded, JSON-escaped) and decoys (each rule's negative examples:
placeholders, documentation keys, test keys, hashes). labels.json says which file holds what.

    python bench/scan_corpus.py OUT [--mb 200]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
import string
import subprocess
import sys
import sysconfig
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from keyreaper.scan import rules as rules_mod  # noqa: E402
from keyreaper.scan.engine import Engine  # noqa: E402

# Big pure-Python-and-data packages, in order, until the size is reached.
PACKAGES = [
    "sympy",
    "moto",
    "numpy",
    "botocore",
    "cfnlint",
    "matplotlib",
    "networkx",
    "mypy",
    "fontTools",
]
FORMS = ("plain", "base64", "url", "json")


def _size_mb(path: Path) -> float:
    out = subprocess.run(
        ["du", "-sm", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return float(out.split()[0])


def _mutate(rng: random.Random, text: str, start: int, end: int) -> str:
    """Fresh random characters of the same class in the secret's span, so planted secrets are
    not the rule files' own examples."""
    out = []
    for c in text[start:end]:
        if c in string.ascii_lowercase:
            c = rng.choice(string.ascii_lowercase)
        elif c in string.ascii_uppercase:
            c = rng.choice(string.ascii_uppercase)
        elif c in string.digits:
            c = rng.choice(string.digits)
        out.append(c)
    return text[:start] + "".join(out) + text[end:]


def _encode(form: str, text: str) -> str:
    if form == "plain":
        return text + "\n"
    if form == "base64":
        return "blob: " + base64.b64encode(text.encode()).decode() + "\n"
    if form == "url":
        return "https://hooks.acme.io/cb?cfg=" + urllib.parse.quote(text, safe="") + "\n"
    return json.dumps({"config": text}) + "\n"


def build(out: Path, mb: float, seed: int = 7) -> dict[str, object]:
    rng = random.Random(seed)
    site = Path(sysconfig.get_paths()["purelib"])
    tree = out / "tree"
    if out.exists():
        shutil.rmtree(out)
    tree.mkdir(parents=True)
    total = 0.0
    for pkg in PACKAGES:
        src = site / pkg
        if not src.is_dir() or total >= mb:
            continue
        subprocess.run(["cp", "-al", str(src), str(tree / pkg)], check=True)
        total += _size_mb(tree / pkg)
    folders = sorted({p.parent for p in tree.rglob("*.py")})
    engine = Engine(rules_mod.load(), max_depth=0)
    labels: list[dict[str, str]] = []
    for rule in engine.rules:
        example = rule.positive[0]
        spans = [m for m in engine.scan(example.encode()) if m.rule.id == rule.id]
        if spans and not rule.check and not rule.canonical:
            # keep the provider's prefix; a mutated example must still be a token of the format
            start = spans[0].start + min(8, (spans[0].end - spans[0].start) // 3)
            fresh = _mutate(rng, example, start, spans[0].end)
            if any(m.rule.id == rule.id for m in engine.scan(fresh.encode())):
                example = fresh
        for form in FORMS:
            folder = rng.choice(folders)
            path = folder / f"kr_planted_{rule.id}_{form}.cfg"
            path.write_text(_encode(form, example))
            labels.append(
                {
                    "path": str(path.relative_to(tree)),
                    "rule": rule.id,
                    "form": form,
                    "label": "planted",
                }
            )
        for i, negative in enumerate(rule.negative):
            path = rng.choice(folders) / f"kr_decoy_{rule.id}_{i}.cfg"
            path.write_text(negative + "\n")
            labels.append(
                {
                    "path": str(path.relative_to(tree)),
                    "rule": rule.id,
                    "form": "plain",
                    "label": "decoy",
                }
            )
    body = {"tree": str(tree), "mb": _size_mb(tree), "labels": labels}
    (out / "labels.json").write_text(json.dumps(body, indent=1))
    return body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--mb", type=float, default=200)
    args = ap.parse_args()
    body = build(args.out, args.mb)
    labels = body["labels"]
    assert isinstance(labels, list)
    print(f"{body['mb']} MB, {sum(1 for x in labels if x['label'] == 'planted')} planted, "
          f"{sum(1 for x in labels if x['label'] == 'decoy')} decoys in {body['tree']}")  # fmt: skip


if __name__ == "__main__":
    main()
