"""Workspaces: init, discovery like git, config validation, refusing readable files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keyreaper.config import KEYS, Config
from keyreaper.errors import WorkspaceError
from keyreaper.workspace import ENV_VAR, Workspace, find, init


def test_init_creates_private_files(tmp_path: Path) -> None:
    root = init(tmp_path)
    for path in (
        root,
        root / "keyreaper.toml",
        root / "keys" / "fingerprint.key",
        root / "state.db",
    ):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert stat.S_IMODE((root / "keys" / "fingerprint.key").stat().st_mode) == 0o600
    with pytest.raises(WorkspaceError, match="already exists"):
        init(tmp_path)


def test_found_by_walking_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    root = init(tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find(deep) == root
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert find(Path("/")) == root
    assert find(Path("/"), explicit=str(root)) == root


def test_missing_workspace_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(WorkspaceError, match="keyreaper init"):
        find(tmp_path)


def test_refuses_readable_workspace(tmp_path: Path) -> None:
    root = init(tmp_path)
    os.chmod(root / "keys" / "fingerprint.key", 0o644)
    with pytest.raises(WorkspaceError, match="others can read"):
        Workspace(root)


def test_config_rejects_unknown_and_mistyped_keys(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[usage]\nstale_days = 'soon'\n")
    with pytest.raises(WorkspaceError, match="must be int"):
        Config.load(p)
    p.write_text("[usage]\nstale_dayz = 3\n")
    with pytest.raises(WorkspaceError, match="unknown config key"):
        Config.load(p)
    p.write_text("[usage]\nstale_days = 10\n")
    assert Config.load(p).get("usage.stale_days") == 10
    assert Config.load(p).get("events.dir") == KEYS["events.dir"][0]
