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
from typing import IO, TYPE_CHECKING, Protocol, runtime_checkable

from keyreaper.domain import Credential, Liveness, Secret

if TYPE_CHECKING:
    import pyarrow as pa


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
    "inventory": "keyreaper.cli.inventory",
    "key": "keyreaper.cli.key",
    "plugins": "keyreaper.cli.plugins",
    "logs": "keyreaper.cli.logs",
    "usage": "keyreaper.cli.usage",
    "hunt": "keyreaper.cli.hunt",
    "ioc": "keyreaper.cli.ioc",
    "timeline": "keyreaper.cli.timeline",
    "exposure": "keyreaper.cli.exposure",
    "har": "keyreaper.cli.har",
    "campaign": "keyreaper.cli.campaign",
    "scan": "keyreaper.cli.scan",
    "report": "keyreaper.cli.report",
}


def command_modules() -> list[Registration]:
    regs = [
        Registration("keyreaper.commands", name, module, True)
        for name, module in BUILTIN_COMMANDS.items()
    ]
    from importlib.metadata import entry_points  # slow to import: only when listing all

    for ep in entry_points(group="keyreaper.commands"):
        regs.append(Registration("keyreaper.commands", ep.name, ep.value, False))
    return regs


def registered(group: str, builtins: dict[str, str] | None = None) -> list[Registration]:
    """Built-ins first, then entry points; a third party cannot shadow a built-in name."""
    regs = [Registration(group, n, m, True) for n, m in (builtins or {}).items()]
    taken = {r.name for r in regs}
    from importlib.metadata import entry_points

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


@dataclass(frozen=True)
class Probe:
    """What a target said about one secret. DEAD counts only with the target's own auth
    refusal (`auth_refused`); timeouts and network errors are UNKNOWN, never DEAD."""

    liveness: Liveness
    evidence: str
    auth_refused: bool = False


@dataclass(frozen=True)
class NewSecret:
    """A secret a provider just created. `identifier` names it at the target (a new access
    key id, a new token id, or the same role name for a password change); `tag` marks objects
    we created so a resume can find and discard one whose secret was lost."""

    identifier: str
    secret: Secret
    tag: str


@runtime_checkable
class Provider(Protocol):
    """A system whose credentials keyreaper can list, probe, rotate and revoke.

    Every method checks the target's state first and is safe to repeat."""

    name: str
    kinds: tuple[str, ...]

    def inventory(self) -> Iterator[Credential]: ...

    def probe(self, credential: Credential, identifier: str, secret: Secret) -> Probe: ...

    def create(self, credential: Credential, tag: str) -> NewSecret: ...

    def created_by_us(self, credential: Credential, tag: str) -> list[str]: ...

    def discard(self, credential: Credential, identifier: str) -> None: ...

    # May return what it verified on the way (e.g. "deactivated; the inactive key was
    # refused"): the journal keeps it as the step's detail.
    def revoke(self, credential: Credential, identifier: str, old: Secret | None) -> str | None: ...

    def revoke_sessions(self, credential: Credential) -> int: ...


@runtime_checkable
class SecretSource(Protocol):
    """Where the current (old) secret of a credential is read from at run time, e.g. a 0600
    file, an environment variable or a command; keyreaper never stores it."""

    def get(self, credential: Credential) -> Secret | None: ...


@runtime_checkable
class Sink(Protocol):
    """Where a newly created secret is delivered; keyreaper never keeps it. Returns a receipt
    (a path, an ARN, a version id) that names where it went, never the value."""

    name: str

    def deliver(self, credential: Credential, new: NewSecret) -> str: ...


@runtime_checkable
class TwoPhaseProvider(Protocol):
    """Optional: a provider whose new secret is chosen by the client (a password, a key
    pair). The campaign generates it, keeps it encrypted, then installs it; after a crash it
    installs the same secret again, so a credential is never rotated twice. `install` checks
    the target first and is safe to repeat with the same secret.

    Further optional attributes of any provider: `replaces_in_place = True` when installing
    the new secret removes the old one (a role's single password), so revoke_old has nothing
    to do; `precheck(credential, identifier, secret) -> Probe | None`, a cheaper preflight
    than a login (None: log in); batch forms `precheck_many` and `revoke_sessions_many` (see
    docs/providers.md). Death is always verified with `probe`."""

    def generate(self, credential: Credential, tag: str) -> NewSecret: ...

    def install(self, credential: Credential, new: NewSecret) -> None: ...
