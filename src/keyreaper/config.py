"""The workspace config file (keyreaper.toml): documented keys with defaults, validated."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyreaper.errors import WorkspaceError

CONFIG_NAME = "keyreaper.toml"

# Every key, its default and what it means. docs/config.md is checked against this table.
KEYS: dict[str, tuple[Any, str]] = {
    "store.url": (
        "sqlite:///state.db",
        "State store: sqlite:///PATH (relative to the workspace) "
        "or postgresql://user@host/db for teams.",
    ),
    "events.dir": ("events", "Folder of the Parquet event store, relative to the workspace."),
    "usage.stale_days": (45, "A credential with no proven use in this many days is flagged stale."),
    "usage.new_source_days": (7, "Uses from an IP/ASN first seen in this many days are flagged."),
    "usage.window_days": (90, "Default look-back window for usage attestations."),
    "usage.geoip_asn_db": (
        "",
        "Path to a MaxMind-format ASN database (GeoLite2-ASN.mmdb); "
        "empty means ASN flags are IP-only unless the log carries ASNs.",
    ),
    "log.level": ("warning", "Log level of keyreaper's own log file (debug, info, warning)."),
}

TEMPLATE = """# keyreaper workspace configuration. Every key is documented in docs/config.md.

[store]
# sqlite:///state.db (relative to this folder) or postgresql://user@host:5432/db
url = "sqlite:///state.db"

[events]
dir = "events"

[usage]
stale_days = 45
new_source_days = 7
window_days = 90
geoip_asn_db = ""

[log]
level = "warning"
"""


@dataclass(frozen=True)
class Config:
    """Flat view of the config: 'section.key' -> value, defaults filled in."""

    values: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def get(self, key: str) -> Any:
        if key in self.values:
            return self.values[key]
        return KEYS[key][0]

    @classmethod
    def load(cls, path: Path) -> Config:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise WorkspaceError(f"{path}: cannot read config ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise WorkspaceError(f"{path}: invalid TOML: {exc}") from exc
        values: dict[str, Any] = {}
        for section, body in raw.items():
            if not isinstance(body, dict):
                raise WorkspaceError(f"{path}: top-level key {section!r} must be a [section]")
            for key, value in body.items():
                name = f"{section}.{key}"
                if name not in KEYS:
                    raise WorkspaceError(f"{path}: unknown config key {name!r}")
                default = KEYS[name][0]
                if not isinstance(value, type(default)) or isinstance(value, bool) != isinstance(
                    default, bool
                ):
                    raise WorkspaceError(
                        f"{path}: {name} must be {type(default).__name__}, "
                        f"got {type(value).__name__}"
                    )
                values[name] = value
        return cls(values, path)
