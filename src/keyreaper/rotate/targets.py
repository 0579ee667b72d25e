"""The targets file a campaign runs against: providers and their connections, sinks, the
secret source and the run settings. No secret is written in it: an option named `X_env`
reads X from that environment variable, as a Secret.

    [campaign]            verify_count, verify_spacing, max_attempts, backoff, backoff_max
    [secrets]             type = "file" (path) | "env" (prefix) | "command" (command)
    [sinks.NAME]          type = "file" | "dotenv" | "command" | a registered sink; options
    [providers.NAME]      type (default NAME), concurrency, rate, sink; provider options
"""

from __future__ import annotations

import importlib
import os
import threading
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from keyreaper.domain import Secret
from keyreaper.errors import InputError, KeyreaperError, Location
from keyreaper.plugins import Provider, SecretSource, Sink, registered
from keyreaper.providers import PROVIDERS
from keyreaper.rotate.ratelimit import RateLimiter
from keyreaper.rotate.sources import CommandSource, EnvSource, FileSource
from keyreaper.sinks import SINKS

# Option names holding paths; relative ones are taken from the targets file's folder.
PATH_OPTIONS = {"path", "dir", "log", "key_file"}
RUN_OPTIONS = {"type", "concurrency", "rate", "sink"}


@dataclass
class Settings:
    verify_count: int = 3  # target refusals in a row before DEAD
    verify_spacing: float = 2.0  # seconds between those refusals
    max_attempts: int = 5  # failures before needs_manual
    backoff: float = 2.0  # first retry delay, doubled each attempt
    backoff_max: float = 300.0


@dataclass
class Target:
    name: str
    provider: Provider
    sink: Sink | None
    concurrency: int = 4
    limiter: RateLimiter = field(default_factory=RateLimiter)
    # At most `concurrency` calls to the target at once. The runner keeps more items than
    # that in flight, so one item's journal write overlaps another's target call.
    slots: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(max(1, self.concurrency))


@dataclass
class Targets:
    providers: dict[str, Target]
    source: SecretSource | None
    settings: Settings
    path: Path | None = None


def load_class(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def provider_classes() -> dict[str, str]:
    """Provider name -> "module:Class", built-ins first, then entry points."""
    return {r.name: r.module for r in registered("keyreaper.providers", PROVIDERS)}


def sink_classes() -> dict[str, str]:
    return {r.name: r.module for r in registered("keyreaper.sinks", SINKS)}


def _options(raw: dict[str, Any], base: Path, where: Location) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in RUN_OPTIONS:
            continue
        if key.endswith("_env"):
            env_value = os.environ.get(str(value))
            if env_value is None:
                raise InputError(where, f"{key}: environment variable {value} is not set")
            out[key.removesuffix("_env")] = Secret(env_value)
        elif key in PATH_OPTIONS:
            paths = [
                str(base / os.path.expanduser(v))
                for v in ([value] if isinstance(value, str) else value)
            ]
            out[key] = paths[0] if isinstance(value, str) else paths
        else:
            out[key] = value
    return out


def _build(kind: str, table: dict[str, str], options: dict[str, Any], where: Location) -> Any:
    if kind not in table:
        raise InputError(where, f"unknown type {kind!r} (known: {', '.join(sorted(table))})")
    cls = load_class(table[kind])
    try:
        return cls(**options)
    except TypeError as exc:
        raise InputError(where, f"bad options for {kind}: {exc}") from None


def _source(raw: dict[str, Any], base: Path, where: Location) -> SecretSource:
    kind = raw.get("type", "file")
    if kind == "file":
        return FileSource(base / os.path.expanduser(str(raw.get("path", "secrets.json"))))
    if kind == "env":
        return EnvSource(str(raw.get("prefix", "KEYREAPER_SECRET_")))
    if kind == "command":
        return CommandSource(str(raw["command"]))
    raise InputError(where, f"[secrets] type must be file, env or command, not {kind!r}")


def load(path: Path) -> Targets:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyreaperError(f"{path}: cannot read the targets file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Location(str(path)), f"invalid TOML: {exc}") from None
    base = path.resolve().parent
    settings = Settings()
    known = {f.name for f in fields(Settings)}
    for key, value in raw.get("campaign", {}).items():
        if key not in known:
            raise InputError(Location(str(path), column=f"campaign.{key}"), "unknown setting")
        setattr(settings, key, type(getattr(settings, key))(value))
    sinks: dict[str, Sink] = {}
    for name, body in raw.get("sinks", {}).items():
        where = Location(str(path), column=f"sinks.{name}")
        sinks[name] = _build(
            body.get("type", name), sink_classes(), _options(body, base, where), where
        )
    providers: dict[str, Target] = {}
    for name, body in raw.get("providers", {}).items():
        where = Location(str(path), column=f"providers.{name}")
        provider = _build(
            body.get("type", name), provider_classes(), _options(body, base, where), where
        )
        sink_name = body.get("sink", "default" if "default" in sinks else None)
        if sink_name is not None and sink_name not in sinks:
            raise InputError(where, f"sink {sink_name!r} is not defined under [sinks]")
        providers[name] = Target(
            name=name,
            provider=provider,
            sink=sinks.get(sink_name) if sink_name else None,
            concurrency=int(body.get("concurrency", 4)),
            limiter=RateLimiter(float(body.get("rate", 0))),
        )
    source = (
        _source(raw["secrets"], base, Location(str(path), column="secrets"))
        if "secrets" in raw
        else None
    )
    return Targets(providers, source, settings, path)
