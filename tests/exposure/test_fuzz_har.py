"""Fuzzing HAR extraction and sanitizing (RELIABILITY.md: fuzz every parser).

A HAR whose entries hold values of any JSON type where the spec puts headers, cookies, query
strings, bodies and times either yields occurrences or stops with one InputError naming the
file; nothing else escapes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keyreaper.errors import InputError
from keyreaper.exposure.har import HarStats, extract
from keyreaper.exposure.sanitize import sanitize_file

_NUMBERS = itertools.count()
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
            "sid=abcdefghijklmnop; Path=/",
            "SSWS 00abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL",
            "base64",
            "application/json",
            "2023-10-18T12:00:00Z",
            "https://example.test/?code=abcdefgh&state=x",
        ]
    ),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_PAIRS = st.lists(
    st.fixed_dictionaries({}, optional={"name": _SCALAR, "value": _SCALAR}), max_size=3
)
_SLOT = {
    "request.url": _SCALAR,
    "request.headers": st.one_of(_PAIRS, _VALUE),
    "request.cookies": st.one_of(_PAIRS, _VALUE),
    "request.queryString": st.one_of(_PAIRS, _VALUE),
    "request.postData": st.one_of(
        st.fixed_dictionaries(
            {}, optional={"mimeType": _SCALAR, "text": _SCALAR, "params": _PAIRS}
        ),
        _VALUE,
    ),
    "response.headers": st.one_of(_PAIRS, _VALUE),
    "response.content": st.one_of(
        st.fixed_dictionaries(
            {}, optional={"mimeType": _SCALAR, "text": _SCALAR, "encoding": _SCALAR}
        ),
        _VALUE,
    ),
    "response.redirectURL": _SCALAR,
    "startedDateTime": _SCALAR,
    "_initiator": _VALUE,
    "request": _VALUE,
}


@st.composite
def _entry(draw: st.DrawFn) -> Any:
    entry: dict[str, Any] = {
        "startedDateTime": "2023-10-18T12:00:00Z",
        "request": {"method": "GET", "url": "https://example.test/", "headers": []},
        "response": {"status": 200, "headers": [], "content": {"mimeType": "text/plain"}},
    }
    for slot in draw(st.lists(st.sampled_from(sorted(_SLOT)), max_size=4)):
        value = draw(_SLOT[slot])
        head, _, tail = slot.partition(".")
        if tail and isinstance(entry.get(head), dict):
            entry[head][tail] = value
        else:
            entry[head] = value
    return entry if draw(st.integers(0, 9)) else draw(_VALUE)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_entry(), max_size=4), st.one_of(st.none(), _VALUE))
@example([{"response": {"content": {"text": 7, "encoding": "base64"}}}], None)
@example([{"request": {"postData": {"text": ["a"], "mimeType": 3}}}], [])
def test_any_har_extracts_or_fails_naming_the_file(
    tmp_path: Path, entries: list[Any], pages: Any
) -> None:
    path = tmp_path / f"fuzz-{next(_NUMBERS)}.har"
    log: dict[str, Any] = {"version": "1.2", "entries": entries}
    if pages is not None:
        log["pages"] = pages
    path.write_text(json.dumps({"log": log}))
    stats = HarStats()
    try:
        found = list(extract(path, stats, max_body=1 << 16))
    except InputError as exc:
        assert str(path) in str(exc)
        return
    for occurrence in found:
        assert occurrence.entry < len(entries)
    # The sanitizer reads the same file: valid JSON out, none of the found secrets in it.
    clean = tmp_path / f"{path.stem}-clean.har"
    sanitize_file(path, clean, max_body=1 << 16)
    text = clean.read_text()
    json.loads(text)
    for occurrence in found:
        value = occurrence.hit.value
        if value and len(value) >= 8:
            assert json.dumps(value)[1:-1] not in text, occurrence.location
