"""A campaign test bench: a workspace, an old-secrets file, a targets file, the CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keyreaper.cli import main
from keyreaper.domain import Credential
from keyreaper.inventory import repo
from keyreaper.workspace import Workspace


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_targets(
    path: Path,
    providers: dict[str, dict[str, Any]],
    *,
    secrets: Path,
    sink_dir: Path,
    settings: dict[str, Any] | None = None,
    sinks: dict[str, dict[str, Any]] | None = None,
) -> Path:
    lines = ["[campaign]"]
    for k, v in (settings or {"verify_count": 2, "verify_spacing": 0.05, "backoff": 0.1}).items():
        lines.append(f"{k} = {toml_value(v)}")
    lines += ["", "[secrets]", 'type = "file"', f"path = {toml_value(secrets)}", ""]
    for name, body in (sinks or {"default": {"type": "file", "dir": str(sink_dir)}}).items():
        lines.append(f"[sinks.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in body.items()]
        lines.append("")
    for name, body in providers.items():
        lines.append(f"[providers.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in body.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


class Bench:
    """Credentials with their old secrets, a targets file, and the CLI against one workspace."""

    def __init__(self, ws: Workspace, tmp: Path) -> None:
        self.ws = ws
        self.tmp = tmp
        self.secrets_file = tmp / "old-secrets.json"
        self.sink_dir = tmp / "delivered"
        self.targets = tmp / "targets.toml"
        self.old: dict[str, str] = {}

    def add(self, creds: Sequence[Credential], old: dict[str, str]) -> None:
        repo.upsert(self.ws.db, list(creds), "test")
        self.old.update(old)
        fd = os.open(self.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.old, fh)

    def delivered(self, credential_id: str) -> str:
        from keyreaper.sinks.file import _UNSAFE

        return (self.sink_dir / _UNSAFE.sub("_", credential_id)).read_text().rstrip("\n")

    def cli(self, *args: str) -> int:
        return main(["-w", str(self.ws.root), *args])

    def run(self, name: str, *extra: str) -> int:
        return self.cli(
            "campaign", "run", name, "--targets", str(self.targets), "--no-progress", *extra
        )

    def status(self, name: str, capsys: Any) -> dict[str, Any]:
        capsys.readouterr()
        assert self.cli("campaign", "status", name, "--json") == 0
        return dict(json.loads(capsys.readouterr().out))

    def plaintext_leaks(self, values: Sequence[str]) -> list[str]:
        """Files under the workspace that contain any of these values."""
        leaks = []
        for path in self.ws.root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                leaks += [f"{path}" for v in values if v.encode() in data]
        return leaks
