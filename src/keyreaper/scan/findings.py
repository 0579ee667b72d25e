"""A finding as reported: rule, place, fingerprint and hint — never the secret itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keyreaper.domain import Secret

# The --json field names, in order; documented in docs/cli/scan.md.
FIELDS = (
    "rule", "title", "provider", "kind", "location", "line", "column", "label", "encodings",
    "fingerprint", "key_version", "hint", "identifier", "commit", "author", "date",
    "liveness", "evidence", "occurrences",
)  # fmt: skip


@dataclass
class ScanFinding:
    rule: str
    title: str
    provider: str
    kind: str
    location: str
    line: int
    column: int
    fingerprint: str
    key_version: int
    hint: str
    label: str = ""
    encodings: list[str] = field(default_factory=list)
    identifier: str = ""  # a public identifier next to the secret (an AWS access key id)
    commit: str = ""
    author: str = ""
    date: str = ""
    liveness: str = ""
    evidence: str = ""
    occurrences: int = 1
    validator: str = ""
    # Kept in memory only for --validate and never serialized (Secret refuses that anyway).
    secret: Secret | None = field(default=None, repr=False, compare=False)
    connect: Secret | None = field(default=None, repr=False, compare=False)  # a whole DB URL

    def to_dict(self) -> dict[str, Any]:
        # field by field, not dataclasses.asdict: that deep-copies every finding
        data = {k: getattr(self, k) for k in FIELDS}
        data["encodings"] = list(self.encodings)
        return data


@dataclass(frozen=True)
class Unscannable:
    location: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"location": self.location, "reason": self.reason}
