"""Every extension contract in one file. Built-ins register through the same tables as
third-party packages, which add theirs with entry points (see `keyreaper plugins`).

Entry-point groups:
  keyreaper.commands     a module with register(app: typer.Typer)
  keyreaper.log_sources  a LogSource class
  keyreaper.providers    a Provider class
  keyreaper.sinks        a Sink class
  keyreaper.rules        a path to a rules file (TOML/YAML)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

    from keyreaper.domain import Credential, Liveness, Secret

GROUPS = (
    "keyreaper.commands",
    "keyreaper.log_sources",
    "keyreaper.providers",
    "keyreaper.sinks",
    "keyreaper.rules",
)


@dataclass(frozen=True)
class Registration:
    group: str
    name: str
    module: str
    builtin: bool


# Built-in command groups, in the order `keyreaper --help` lists them.
BUILTIN_COMMANDS = {
    "init": "keyreaper.cli.init",
    "fingerprint": "keyreaper.cli.fingerprint",
    "plugins": "keyreaper.cli.plugins",
}


def command_modules() -> list[Registration]:
    regs = [
        Registration("keyreaper.commands", name, module, True)
        for name, module in BUILTIN_COMMANDS.items()
    ]
    for ep in entry_points(group="keyreaper.commands"):
        regs.append(Registration("keyreaper.commands", ep.name, ep.value, False))
    return regs


def registered(group: str, builtins: dict[str, str] | None = None) -> list[Registration]:
    """Built-ins first, then entry points; a third party cannot shadow a built-in name."""
    regs = [Registration(group, n, m, True) for n, m in (builtins or {}).items()]
    taken = {r.name for r in regs}
    for ep in entry_points(group=group):
        if ep.name not in taken:
            regs.append(Registration(group, ep.name, ep.value, False))
    return regs


@runtime_checkable
class LogSource(Protocol):
    """Turns one log format into record batches of keyreaper.events.schema.EVENT_SCHEMA."""

    name: str
    # Event types that can show a credential's use; coverage is judged against these.
    usage_event_types: tuple[str, ...]

    def detect(self, head: bytes) -> bool: ...

    def parse(self, stream: IO[bytes], origin: str) -> Iterator[pa.RecordBatch]: ...


@runtime_checkable
class Provider(Protocol):
    """A system whose credentials keyreaper can list, probe, rotate and revoke.

    Every step checks the target's state first and is safe to repeat."""

    name: str

    def inventory(self) -> Iterator[Credential]: ...

    def probe(self, credential: Credential, secret: Secret) -> tuple[Liveness, str]: ...


@runtime_checkable
class Sink(Protocol):
    """Where a newly created secret is delivered; keyreaper never keeps it."""

    name: str

    def deliver(self, credential_id: str, secret: Secret, meta: dict[str, Any]) -> str: ...
