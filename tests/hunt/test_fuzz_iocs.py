"""Fuzzing indicator import (RELIABILITY.md: fuzz every parser).

Any bytes in any of the formats either give indicators plus problems that name the file, or
one InputError naming the file; nothing else escapes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keyreaper.errors import InputError
from keyreaper.hunt.store import read_file

_NUMBERS = itertools.count()
_PIECE = st.one_of(
    st.text(max_size=25),
    st.sampled_from(
        [
            "193.142.58[.]126",
            "hxxps://idowall[.]com/x",
            "2001:db8::/32",
            "AS9009",
            "10.0.0.0/33",
            "1.2.3.4/0",
            "ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = '999.1.1.1']",
            "Mozilla/5.0",
            "d41d8cd98f00b204e9800998ecf8427e",
            "|",
            ",",
            "\t",
        ]
    ),
)


@st.composite
def _stix(draw: st.DrawFn) -> bytes:
    objects = draw(
        st.lists(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["indicator", "bundle", "x", 3])},
                optional={
                    "pattern": _PIECE,
                    "pattern_type": st.sampled_from(["stix", "sigma", None]),
                    "valid_from": st.sampled_from(["2023-11-14T00:00:00Z", "soon", 7]),
                    "valid_until": st.sampled_from(["2023-11-24T00:00:00Z", None]),
                    "id": st.text(max_size=10),
                },
            ),
            max_size=4,
        )
    )
    return json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}).encode()


@st.composite
def _misp(draw: st.DrawFn) -> bytes:
    attrs = draw(
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "type": st.sampled_from(["ip-dst", "domain", "url", "AS", "sha256", "x", 1]),
                    "value": _PIECE,
                    "comment": _PIECE,
                    "to_ids": st.booleans(),
                },
            ),
            max_size=4,
        )
    )
    return json.dumps({"Event": {"info": "x", "Attribute": attrs}}).encode()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        _stix(),
        _misp(),
        st.lists(_PIECE, max_size=8).map(lambda p: " ".join(p).encode()),
        st.binary(max_size=100),
    ),
    st.sampled_from(["auto", "stix", "misp", "csv", "text"]),
)
@example(b'{"type": "bundle", "objects": [{"type": "indicator"}]}', "stix")
@example(b'{"Event": {"Attribute": [{"type": "ip-dst"}]}}', "misp")
@example(b"value,type\n10.0.0.0/33,cidr\n", "csv")
def test_any_indicator_file_reads_or_fails_naming_it(
    tmp_path: Path, content: bytes, fmt: str
) -> None:
    path = tmp_path / f"iocs-{next(_NUMBERS)}.txt"
    path.write_bytes(content)
    try:
        indicators, problems = read_file(path, fmt)
    except InputError as exc:
        assert path.name in str(exc)
        return
    for problem in problems:
        assert path.name in problem
    for ind in indicators:
        assert ind.value
