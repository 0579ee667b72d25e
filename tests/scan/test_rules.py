"""Every rule's own (payload, should_match) table, run through the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyreaper.errors import InputError
from keyreaper.scan import rules as rules_mod
from keyreaper.scan.engine import Engine

RULES = rules_mod.load()
POSITIVE = [(r.id, i, ex) for r in RULES for i, ex in enumerate(r.positive)]
NEGATIVE = [(r.id, i, ex) for r in RULES for i, ex in enumerate(r.negative)]


def test_enough_rules_with_examples() -> None:
    assert len(RULES) >= 150
    assert all(r.positive and r.negative for r in RULES), [
        r.id for r in RULES if not (r.positive and r.negative)
    ]


@pytest.mark.parametrize(("rule_id", "index", "text"), POSITIVE, ids=lambda v: str(v)[:40])
def test_positive_example_found(engine: Engine, rule_id: str, index: int, text: str) -> None:
    rule = engine.by_id[rule_id]
    matches = engine.scan(text.encode())
    found = {m.rule.id for m in matches}
    if rule.generic:
        # catch-alls overlap; any of them finding the secret is the point
        found |= {rule_id} if any(m.rule.generic for m in matches) else set()
    assert rule_id in found, f"{rule_id} example {index} not found (got {sorted(found)})"


@pytest.mark.parametrize(("rule_id", "index", "text"), NEGATIVE, ids=lambda v: str(v)[:40])
def test_negative_example_not_found(engine: Engine, rule_id: str, index: int, text: str) -> None:
    found = sorted({m.rule.id for m in engine.scan(text.encode())})
    assert rule_id not in found, f"{rule_id} negative {index} matched {found}"
    # a placeholder is no finding of any secret rule either
    secrets = [f for f in found if not engine.by_id[f].is_identifier]
    assert secrets == [], f"{rule_id} negative {index} matched {secrets}"


def test_pure_re_fallback_agrees_on_examples(all_rules: list[rules_mod.Rule]) -> None:
    fallback = Engine(all_rules, force_re=True)
    assert fallback.backend == "re (fallback)"
    for rule_id, _, text in POSITIVE[::7]:
        assert rule_id in {m.rule.id for m in fallback.scan(text.encode())}


def test_builtin_rules_pass_the_checks_they_skip_at_start_up() -> None:
    """load() leaves built-in patterns uncompiled until first use; here each is checked as a
    user's rule file is (compiles, has a `secret` group), and the lazy pattern is the same."""
    loaded = {r.id: r for r in rules_mod.load()}
    for name, text in rules_mod.builtin_files():
        for checked in rules_mod.load_file(name, text):  # check=True: raises on a bad one
            assert loaded[checked.id].regex.pattern == checked.regex.pattern
            assert loaded[checked.id].regex.flags == checked.regex.flags
            assert "secret" in loaded[checked.id].regex.groupindex


def test_a_user_rule_with_a_bad_pattern_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[rule]]\nid = "bad-rule"\nprovider = "x"\ntitle = "x"\nkeywords = ["x"]\n'
        'pattern = "(?P<other>x"\n'
    )
    with pytest.raises(InputError, match="bad pattern"):
        rules_mod.load(extra=[bad], builtin=False)
