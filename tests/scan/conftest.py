from __future__ import annotations

import pytest

from keyreaper.scan import rules as rules_mod
from keyreaper.scan.engine import Engine


@pytest.fixture(scope="session")
def all_rules() -> list[rules_mod.Rule]:
    return rules_mod.load()


@pytest.fixture(scope="session")
def engine(all_rules: list[rules_mod.Rule]) -> Engine:
    return Engine(all_rules)
