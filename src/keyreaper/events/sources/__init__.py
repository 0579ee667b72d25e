"""The built-in log sources, one module per format, in detection order (most specific
first), plus third-party sources from the `keyreaper.log_sources` entry point group."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from keyreaper.errors import KeyreaperError
from keyreaper.plugins import LogSource, registered

# name -> "module:attribute"; the order is the detection order.
BUILTIN_SOURCES = {
    "cloudtrail": "keyreaper.events.sources.cloudtrail:SOURCE",
    "okta": "keyreaper.events.sources.okta:SOURCE",
    "kubernetes": "keyreaper.events.sources.kubernetes:SOURCE",
    "google_workspace": "keyreaper.events.sources.google_workspace:SOURCE",
    "cloudflare_access": "keyreaper.events.sources.cloudflare_access:SOURCE",
    "atlassian_org": "keyreaper.events.sources.atlassian_org:SOURCE",
    "bitbucket": "keyreaper.events.sources.atlassian_audit:BITBUCKET",
    "jira": "keyreaper.events.sources.atlassian_audit:JIRA",
    "confluence": "keyreaper.events.sources.atlassian_audit:CONFLUENCE",
    "github": "keyreaper.events.sources.github:SOURCE",
    "sshd": "keyreaper.events.sources.sshd:SOURCE",
    "postgresql": "keyreaper.events.sources.postgresql:SOURCE",
    "web_access": "keyreaper.events.sources.weblog:SOURCE",
}


def _load(target: str) -> LogSource:
    module, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module), attr or "SOURCE")
    source: LogSource = obj() if isinstance(obj, type) else obj
    return source


def all_sources(extra: Sequence[LogSource] = ()) -> dict[str, LogSource]:
    """User field maps first (they are the most specific), then built-ins, then plugins."""
    out: dict[str, LogSource] = {s.name: s for s in extra}
    for reg in registered("keyreaper.log_sources", BUILTIN_SOURCES):
        if reg.name not in out:
            out[reg.name] = _load(reg.module)
    return out


def detect(head: bytes, sources: dict[str, LogSource]) -> LogSource | None:
    if not head.strip():
        return None
    for source in sources.values():
        try:
            if source.detect(head):
                return source
        except Exception:  # noqa: S112 - a plugin's broken detector must not stop ingest
            continue
    return None


def named(name: str, sources: dict[str, LogSource]) -> LogSource:
    try:
        return sources[name]
    except KeyError:
        raise KeyreaperError(
            f"unknown log format {name!r} (known: {', '.join(sorted(sources))})"
        ) from None
