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


import random  # noqa: E402
import string  # noqa: E402
import zlib  # noqa: E402

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def token(
    n: int, alphabet: str = string.ascii_letters + string.digits, seed: int | None = None
) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def github_token(prefix: str = "ghp_", seed: int | None = None) -> str:
    body = token(30, seed=seed)
    n = zlib.crc32(body.encode())
    digits = ""
    while n:
        n, r = divmod(n, 62)
        digits = _B62[r] + digits
    return prefix + body + digits.rjust(6, "0")


def aws_pair(seed: int | None = None) -> tuple[str, str]:
    return (
        "AKIA" + token(16, string.ascii_uppercase + "234567", seed),
        token(40, string.ascii_letters + string.digits + "/+", seed),
    )


def okta_token(seed: int | None = None) -> str:
    return "00" + token(40, string.ascii_letters + string.digits + "_-", seed)
