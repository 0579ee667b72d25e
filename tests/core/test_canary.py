"""Canary: plant 50 secrets, run every command, grep everything written for any trace."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.workspace import Workspace
from tests.servers.postgres import PostgresServer

KINDS = ["api_token", "access_key", "password", "service_token", "session"]


def _canaries(n: int = 50) -> list[tuple[str, str, str]]:
    """(secret, encoding, as written in the file)."""
    out = []
    for i in range(n):
        value = f"CANARY{i:02d}" + secrets.token_urlsafe(24)
        if i % 10 == 3:
            value += "/+&=%"  # characters that URL and base64 encodings change
        enc = ("plain", "base64", "url")[i % 3]
        if enc == "base64":
            written = base64.b64encode(value.encode()).decode()
        elif enc == "url":
            written = urllib.parse.quote(value, safe="")
        else:
            written = value
        out.append((value, enc, written))
    return out


def _needles(value: str) -> list[bytes]:
    raw = value.encode()
    return [
        raw,
        base64.b64encode(raw),
        urllib.parse.quote(value, safe="").encode(),
        hashlib.sha256(raw).hexdigest().encode(),
        hashlib.sha1(raw).hexdigest().encode(),
        hashlib.md5(raw).hexdigest().encode(),
        hashlib.sha256(raw).digest(),
    ]


def _grep_tree(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits += [f"{path}: {n[:12]!r}" for n in needles if n in data]
    return hits


def test_no_secret_anywhere(
    workspace: Workspace,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    canaries = _canaries()
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["provider", "kind", "identifier", "owner", "secret", "secret_encoding"])
    for i, (_, enc, written) in enumerate(canaries):
        writer.writerow(["prov", KINDS[i % len(KINDS)], f"ident-{i}", "team", written, enc])
    src = tmp_path / "inventory-with-secrets.csv"
    src.write_text(buf.getvalue())
    ws = ["--workspace", str(workspace.root)]

    commands = [
        ["inventory", "import", str(src)],
        ["inventory", "import", str(src)],
        ["inventory", "list"],
        ["inventory", "list", "--json"],
        ["inventory", "list", "--csv"],
        ["inventory", "show", "ident-7"],
        ["inventory", "show", "ident-7", "--json"],
        ["plugins"],
        ["report", "--out", str(workspace.root / "report.html")],  # grepped with the workspace
    ]
    for cmd in commands:
        assert main([*ws, "-v", *cmd]) == 0, cmd
    # The analyst's lookup in a real subprocess, secret on stdin.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for value, _, _ in canaries[:2]:
        proc = subprocess.run(
            [sys.executable, "-m", "keyreaper", *ws, "-v", "fingerprint", "--json"],
            input=value,
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert "ident-" in proc.stdout  # it matched the inventory
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)

    # Every stored credential was fingerprinted (all 50 decoded correctly).
    n = workspace.db.query("SELECT COUNT(*) AS n FROM credential_fingerprints")[0]["n"]
    assert int(n) == 50
    workspace.close()

    captured = capfd.readouterr()
    needles = [n for value, _, _ in canaries for n in _needles(value)]
    text = (captured.out + captured.err).encode()
    assert [n[:12] for n in needles if n in text] == []
    assert _grep_tree(tmp_path, needles)  # the grep itself works: the input file has them
    assert _grep_tree(workspace.root, needles) == []
    if workspace.config.get("store.url").startswith("postgresql"):
        server: PostgresServer = request.getfixturevalue("postgres_server")
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import psycopg,sys; psycopg.connect(sys.argv[1], autocommit=True)"
                ".execute('CHECKPOINT')",
                server.dsn(),
            ],
            check=True,
        )
        assert _grep_tree(server.datadir, needles) == []
