"""Any JSON lines through a user's TOML field map: a few declarative lines make a source.

name = "vault_audit"                  # the source name in the event store
detect = ['"type":"response"']        # texts that must all appear in the file's head
time = ["time"]                       # paths tried in order (ISO-8601 or epoch)
usage_event_types = ["response"]      # which event types can show a credential's use
container_key = ""                    # e.g. "Records" when a file is {"Records": [...]}

[fields]                              # column = path or [paths], first present wins
event_type = "type"
actor_name = "auth.display_name"
credential_id = ["auth.accessor", "auth.client_token"]
src_ip = "request.remote_address"

[constants]                           # fixed column values
category = "authentication"
credential_kind = "api_token"

[outcome]                             # value of `path` (lower-cased) -> outcome
path = "error"
success = [""]
failure = ["permission denied"]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from keyreaper.errors import InputError, Location
from keyreaper.events.jsonsource import JsonSource
from keyreaper.events.schema import COLUMNS

_SETTABLE = set(COLUMNS) - {"time", "source", "raw", "origin"}
_KEYS = {"name", "description", "detect", "time", "usage_event_types", "container_key"}
_KEYS |= {"fields", "constants", "outcome"}


def _paths(value: Any, where: Location) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise InputError(where, "must be a path or a list of paths")


def load(path: Path) -> JsonSource:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(Location(str(path)), f"cannot read field map ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Location(str(path)), f"invalid TOML: {exc}") from exc
    unknown = set(data) - _KEYS
    if unknown:
        raise InputError(Location(str(path)), f"unknown keys: {', '.join(sorted(unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise InputError(Location(str(path), column="name"), "name: letters, digits, - and _")
    fields: dict[str, tuple[str, ...]] = {}
    for column, value in (data.get("fields") or {}).items():
        if column not in _SETTABLE:
            raise InputError(
                Location(str(path), column=f"fields.{column}"),
                f"unknown column (known: {', '.join(sorted(_SETTABLE))})",
            )
        fields[column] = _paths(value, Location(str(path), column=f"fields.{column}"))
    constants = {str(k): str(v) for k, v in (data.get("constants") or {}).items()}
    bad = set(constants) - _SETTABLE
    if bad:
        raise InputError(Location(str(path), column="constants"), f"unknown columns: {bad}")
    if "event_type" not in fields and "event_type" not in constants:
        raise InputError(Location(str(path), column="fields"), "event_type is required")
    outcome = data.get("outcome") or {}
    values = {str(v).lower(): "success" for v in outcome.get("success", [])}
    values |= {str(v).lower(): "failure" for v in outcome.get("failure", [])}
    return JsonSource(
        name=name,
        description=str(data.get("description") or f"field map {path.name}"),
        detect_all=tuple(str(d).encode() for d in data.get("detect") or ()),
        fields=fields,
        time=_paths(data.get("time"), Location(str(path), column="time")),
        constants=constants,
        outcome_path=(str(outcome["path"]),) if outcome.get("path") else (),
        outcome_values=values,
        usage_event_types=tuple(data.get("usage_event_types") or ("*",)),
        container_key=str(data.get("container_key") or ""),
    )
