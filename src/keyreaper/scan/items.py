"""What sources hand to the scanner: an item (bytes plus where they came from) or a
problem (something that could not be scanned, and why). One bad item never stops a run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# offset in the item -> a human label for that place (page title, issue key, HAR entry)
Labeler = Callable[[int], str]


@dataclass
class Item:
    location: str
    data: bytes
    date: str = ""  # ISO-8601: commit date, page date or file time (the exposure's T0)
    commit: str = ""
    author: str = ""
    labeler: Labeler | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "truncated at 256 MiB"
    mtime: float = 0.0  # file time, turned into `date` only when the item has a finding


@dataclass(frozen=True)
class Problem:
    location: str
    reason: str


@dataclass(frozen=True)
class Limits:
    """Budgets per item (see RELIABILITY.md): bytes, time, nesting, entries, expansion."""

    max_item_bytes: int = 256 << 20
    item_seconds: float = 20.0
    max_depth: int = 6  # archive nesting
    max_entries: int = 100_000  # members per archive
    max_ratio: int = 200  # uncompressed / compressed, per member
    max_expanded: int = 2 << 30  # bytes expanded from one top-level archive
    decode_depth: int = 3
