"""What running one rule, correlation or query produced: hits, coverage notes, an error."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyreaper.hunt.store import Hit


@dataclass
class Note:
    """Something a rule could not see or do: reported as loudly as a hit."""

    rule: str
    source: str
    reason: str


@dataclass
class RuleResult:
    rule_id: str
    title: str
    kind: str  # rule | correlation | query
    sources: tuple[str, ...]
    hits: list[Hit] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    error: str = ""
    sql: dict[str, str] = field(default_factory=dict)
