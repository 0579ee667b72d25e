"""Fuzzing the inventory importer (RELIABILITY.md: fuzz every parser).

Whatever bytes an inventory file holds, parsing ends in one of two ways: credentials plus row
errors that each name the file and a line, or one InputError naming the file. Nothing else
escapes, and no secret value reaches an error message.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keyreaper.errors import InputError
from keyreaper.inventory.importer import COLUMNS, parse_file
from keyreaper.workspace import Workspace

CANARY = "kr-canary-inv-7f3c91d2"
_NUMBERS = itertools.count()
_CELL = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["okta", "api_token", "2026-13-45", "2026-01-01", "", ";;", '"', CANARY]),
)
_NAMES = st.sampled_from([*COLUMNS, "secret", "secret_encoding", "bogus", ""])


@st.composite
def _csv(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(_NAMES, min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(_CELL, max_size=8), max_size=5))
    lines = [",".join(header), *(",".join(r) for r in rows)]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@st.composite
def _json(draw: st.DrawFn) -> bytes:
    value = draw(
        st.lists(
            st.dictionaries(_NAMES, st.one_of(_CELL, st.lists(_CELL, max_size=3), st.integers())),
            max_size=4,
        )
        | st.dictionaries(st.text(max_size=5), _CELL, max_size=3)
    )
    return json.dumps(value).encode()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.one_of(_csv(), _json(), st.binary(max_size=120)),
    st.sampled_from(["csv", "json", "yaml"]),
)
@example(b"provider,kind,identifier,secret\nokta,api_token,a,\xff\xfe", "csv")
@example(b'[{"provider": "okta", "secret": ["' + CANARY.encode() + b'"]}]', "json")
@example(b"- {provider: okta, created: 2026-02-30}\n- [", "yaml")
def test_any_inventory_file_parses_or_fails_with_a_location(
    sqlite_workspace: Workspace, content: bytes, fmt: str
) -> None:
    path = sqlite_workspace.root / f"inventory-{next(_NUMBERS)}.{fmt}"
    path.write_bytes(content)
    try:
        parsed = parse_file(path, sqlite_workspace.fingerprinter, fmt)
    except InputError as exc:
        assert str(path) in str(exc)
        assert CANARY not in str(exc)
        return
    for error in parsed.errors:
        assert str(error).startswith(f"{path}:")
        assert CANARY not in str(error)
    for cred in parsed.credentials:
        assert CANARY not in repr(cred)
