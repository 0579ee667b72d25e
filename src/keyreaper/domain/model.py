"""The domain: frozen dataclasses validated on construction. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

KINDS = (
    "service_account",
    "api_token",
    "service_token",
    "access_key",
    "ssh_key",
    "db_role",
    "oauth_client",
    "session",
    "password",
    "certificate",
    "webhook_secret",
    "other",
)

_FP_RE = re.compile(r"^[0-9a-f]{64}$")
_ID_PART = re.compile(r"^[^\s]+$")


class Liveness(StrEnum):
    """Result of probing a credential at its target."""

    LIVE = "LIVE"
    DEAD = "DEAD"
    UNKNOWN = "UNKNOWN"


class UsageVerdict(StrEnum):
    """Result of searching the logs for a credential's use."""

    USED = "USED"
    NOT_SEEN = "NOT_SEEN"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Fingerprint:
    """HMAC-SHA256 of a normalized secret under a workspace key version, plus a human hint."""

    value: str
    key_version: int
    hint: str = ""

    def __post_init__(self) -> None:
        if not _FP_RE.match(self.value):
            raise ValueError("fingerprint must be 64 lowercase hex characters")
        if self.key_version < 1:
            raise ValueError("key_version must be >= 1")

    def __str__(self) -> str:
        return f"hmac-sha256:v{self.key_version}:{self.value}"

    @property
    def short(self) -> str:
        return f"v{self.key_version}:{self.value[:12]}"


@dataclass(frozen=True)
class Claim:
    """What somebody asserted about a credential (e.g. 'unused'), by whom and when."""

    status: str
    claimant: str = ""
    date: str = ""


@dataclass(frozen=True)
class Credential:
    """One credential in the inventory. Never holds the secret, only its fingerprints."""

    id: str
    provider: str
    kind: str
    identifiers: tuple[str, ...]
    name: str = ""
    owner: str = ""
    consumers: tuple[str, ...] = ()
    privilege: str = ""
    created: str = ""
    last_rotated: str = ""
    expires: str = ""
    tags: tuple[str, ...] = ()
    claim: Claim | None = None
    fingerprints: tuple[Fingerprint, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if not self.provider or not _ID_PART.match(self.provider):
            raise ValueError("provider is required and has no spaces")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r} (known: {', '.join(KINDS)})")
        if not self.identifiers:
            raise ValueError("at least one identifier is required")
        if any(not i.strip() for i in self.identifiers):
            raise ValueError("identifiers must not be blank")

    @staticmethod
    def make_id(provider: str, kind: str, identifier: str) -> str:
        return f"{provider}:{kind}:{identifier}"


@dataclass(frozen=True)
class Exposure:
    """A leak event (a HAR file, a breach list, scan findings) with its time T0."""

    name: str
    t0: datetime | None
    t0_source: str
    description: str = ""
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("exposure name is required")
        if self.t0 is not None and self.t0.tzinfo is None:
            raise ValueError("t0 must be timezone-aware")


@dataclass(frozen=True)
class ExposedItem:
    """One secret or identifier inside an exposure, matched to the inventory when possible."""

    exposure: str
    kind: str
    evidence: str
    fingerprint: Fingerprint | None = None
    identifier: str = ""
    credential_id: str | None = None
    seen_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.fingerprint is None and not self.identifier:
            raise ValueError("an exposed item needs a fingerprint or an identifier")


@dataclass(frozen=True)
class UsageEvent:
    """One normalized log event that may show a credential's use."""

    time: datetime
    source: str
    event_type: str
    origin: str
    outcome: str = ""
    actor_id: str = ""
    actor_name: str = ""
    credential_id: str = ""
    credential_kind: str = ""
    src_ip: str = ""
    src_asn: int | None = None
    user_agent: str = ""
    session_id: str = ""

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("event time must be timezone-aware (UTC)")
        if not self.origin:
            raise ValueError("every event keeps its origin")


@dataclass(frozen=True)
class Attestation:
    """A measured verdict on a credential's use over a window, with the evidence behind it."""

    credential_id: str
    verdict: UsageVerdict
    window_start: datetime
    window_end: datetime
    computed_at: datetime
    first_use: datetime | None = None
    last_use: datetime | None = None
    use_count: int = 0
    distinct_ips: tuple[str, ...] = ()
    distinct_asns: tuple[int, ...] = ()
    distinct_user_agents: tuple[str, ...] = ()
    last_evidence: str = ""
    sources_searched: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.window_end < self.window_start:
            raise ValueError("window ends before it starts")
        if self.verdict is UsageVerdict.USED and (self.last_use is None or self.use_count < 1):
            raise ValueError("USED needs a last use and a count")
        if self.verdict is not UsageVerdict.USED and self.use_count:
            raise ValueError("only USED carries uses")


@dataclass(frozen=True)
class Finding:
    """A secret found by the scanner: where, which rule, its fingerprint; never the value."""

    rule_id: str
    location: str
    fingerprint: Fingerprint
    line: int | None = None
    commit: str = ""
    author: str = ""
    date: str = ""
    context: str = ""
    liveness: Liveness = Liveness.UNKNOWN

    def __post_init__(self) -> None:
        if not self.rule_id or not self.location:
            raise ValueError("a finding needs a rule id and a location")


INDICATOR_TYPES = (
    "ipv4",
    "ipv6",
    "cidr",
    "domain",
    "url",
    "user_agent",
    "file_name",
    "sha256",
    "sha1",
    "md5",
    "email",
    "asn",
    "credential_id",
)


@dataclass(frozen=True)
class Indicator:
    """An indicator of compromise with its provenance and validity window."""

    type: str
    value: str
    source: str = ""
    description: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.type not in INDICATOR_TYPES:
            raise ValueError(f"unknown indicator type {self.type!r}")
        if not self.value:
            raise ValueError("indicator value is required")


class ItemAction(StrEnum):
    """What a campaign plans for one credential."""

    ROTATE = "rotate"
    REVOKE = "revoke"
    BLOCKED = "blocked"


STEPS = (
    "preflight",
    "create",
    "deliver",
    "test_new",
    "revoke_old",
    "revoke_sessions",
    "verify_dead",
    "watch",
)


@dataclass(frozen=True)
class Campaign:
    """A named rotation campaign and how its items were selected."""

    name: str
    selector: str
    created_at: datetime

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("campaign name is required")


@dataclass(frozen=True)
class CampaignItem:
    """One credential's walk through the campaign's ordered steps."""

    campaign: str
    credential_id: str
    action: ItemAction
    reason: str
    step: str = "preflight"
    state: str = "pending"
    attempts: int = 0

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise ValueError(f"unknown step {self.step!r}")
