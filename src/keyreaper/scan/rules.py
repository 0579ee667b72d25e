"""Scanner rules are data: TOML files under scan/rules/ (and any a plugin registers).

Each rule names a provider and kind, a pattern whose `secret` group is the credential, the
keywords that must appear near it, an entropy floor, and optional checks (checksums, JWT
structure, placeholder filters). Every rule carries positive and negative examples that the
test suite runs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from keyreaper.errors import InputError, Location

# A key name and its value may be separated by quotes, colons, whitespace and line breaks,
# HTML table cells (Confluence exports), JSON escapes, or a YAML `value:` line (Kubernetes env).
SEP = (
    r"(?:[\s\"'`:=,;|>\[\]{}()]|<[^<>\n]{0,160}>|&nbsp;|&quot;|&\#\d{2,3};|\\[nrt\"]"
    r"|\bvalue\b|\bval\b){1,24}?"
)
_FIELDS = {
    "id", "provider", "kind", "title", "pattern", "keywords", "entropy", "check", "validator",
    "canonical", "prefilter", "pair", "flags", "window", "generic", "positive", "negative",
}  # fmt: skip
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


@dataclass(frozen=True)
class Rule:
    id: str
    provider: str
    kind: str
    title: str
    pattern: str
    keywords: tuple[str, ...]
    entropy: float = 3.0
    check: str = ""
    validator: str = ""
    canonical: str = ""
    prefilter: str = ""  # "keywords": hyperscan looks for the keywords only
    pair: str = ""  # the rule whose match names this secret's identifier (AWS key id)
    window: int = 1200  # bytes before a prefilter hit that the exact regex looks at
    generic: bool = False  # loses to a provider-specific rule on the same text
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    source: str = ""
    flags: int = 0  # re flags of the exact pattern

    @cached_property
    def regex(self) -> re.Pattern[bytes]:
        """The exact pattern, compiled at first use: most rules never see a prefilter hit in
        a scan, and compiling all of them cost a third of a scan's start-up."""
        return re.compile(self.pattern.encode(), self.flags)

    @property
    def is_identifier(self) -> bool:
        return self.kind == "identifier"


def expand(pattern: str) -> str:
    return pattern.replace("{sep}", SEP)


def _build(raw: dict[str, object], source: str, index: int, check: bool = True) -> Rule:
    where = Location(source, None, f"rule {index + 1}")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise InputError(where, f"unknown rule fields: {', '.join(sorted(unknown))}")
    rid = str(raw.get("id", ""))
    if not _ID_RE.match(rid):
        raise InputError(where, f"bad rule id {rid!r}")
    for required in ("provider", "title", "pattern", "keywords"):
        if not raw.get(required):
            raise InputError(where, f"rule {rid}: missing {required}")
    pattern = expand(str(raw["pattern"]))
    flags = re.MULTILINE if "m" in str(raw.get("flags", "")) else 0
    if check:  # built-in rules are checked by the test suite, not at every start
        try:
            regex = re.compile(pattern.encode(), flags)
        except re.error as exc:
            raise InputError(where, f"rule {rid}: bad pattern ({exc})") from exc
        if "secret" not in regex.groupindex:
            raise InputError(where, f"rule {rid}: pattern needs a (?P<secret>...) group")
    keywords = raw["keywords"]
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
        raise InputError(where, f"rule {rid}: keywords must be a list of strings")
    return Rule(
        id=rid,
        provider=str(raw["provider"]),
        kind=str(raw.get("kind", "secret")),
        title=str(raw["title"]),
        pattern=pattern,
        keywords=tuple(keywords),
        entropy=float(raw.get("entropy", 3.0)),  # type: ignore[arg-type]
        check=str(raw.get("check", "")),
        validator=str(raw.get("validator", "")),
        canonical=str(raw.get("canonical", "")),
        prefilter=str(raw.get("prefilter", "")),
        pair=str(raw.get("pair", "")),
        window=int(raw.get("window", 1200)),  # type: ignore[call-overload]
        generic=bool(raw.get("generic", False)),
        positive=tuple(str(p) for p in raw.get("positive", ())),  # type: ignore[attr-defined]
        negative=tuple(str(n) for n in raw.get("negative", ())),  # type: ignore[attr-defined]
        source=source,
        flags=flags,
    )


def load_file(path: Path | str, text: str | None = None, check: bool = True) -> list[Rule]:
    source = str(path)
    try:
        data = tomllib.loads(text if text is not None else Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(Location(source), f"cannot read rules ({exc})") from exc
    items = data.get("rule", [])
    if not isinstance(items, list):
        raise InputError(Location(source), "expected [[rule]] tables")
    return [_build(raw, source, i, check) for i, raw in enumerate(items)]


def builtin_files() -> list[tuple[str, str]]:
    folder = resources.files("keyreaper.scan") / "rules"
    return sorted(
        (f"rules/{entry.name}", entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load(extra: Iterable[Path] = (), builtin: bool = True) -> list[Rule]:
    """Built-in rules, then rules from plugin entry points and `extra` files; ids are unique."""
    from keyreaper.plugins import registered

    rules: list[Rule] = []
    if builtin:
        for name, text in builtin_files():
            rules.extend(load_file(name, text, check=False))
    paths = [Path(r.module) for r in registered("keyreaper.rules")] + list(extra)
    for path in paths:
        rules.extend(load_file(path))
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.id in seen:
            raise InputError(
                Location(rule.source), f"rule id {rule.id} also defined in {seen[rule.id]}"
            )
        seen[rule.id] = rule.source
    return rules
