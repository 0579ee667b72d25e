"""Property: whatever the extractor finds in a text, the sanitizer's text pass removes."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from keyreaper.exposure import detect
from keyreaper.exposure.names import SECRET_PARAMS
from keyreaper.exposure.sanitize import Sanitizer

_TOKEN = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/",
    min_size=8,
    max_size=60,
)
_NAME = st.sampled_from(sorted(SECRET_PARAMS))
_FILLER = st.text(alphabet=" \n\t,;:!?éü漢{}[]<>", max_size=20)  # never part of a token


def _embed(style: str, name: str, value: str) -> str:
    if style == "json":
        return json.dumps({name: value, "other": 1})
    if style == "form":
        return f"a=1&{name}={quote(value, safe='')}&b=2"
    if style == "html":
        return f'<form><input type="hidden" name="{name}" value="{value}"></form>'
    return f'--x\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n--x--'


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["json", "form", "html", "multipart"]), _NAME, _TOKEN),
        min_size=1,
        max_size=4,
    ),
    _FILLER,
)
def test_sanitizer_removes_what_the_extractor_finds(
    pairs: list[tuple[str, str, str]], filler: str
) -> None:
    text = filler.join(_embed(*p) for p in pairs)
    found = {h.value for h in detect.pair_hits(text, form=True) if h.value}
    for _style, _name, value in pairs:
        assert value in found
    clean = Sanitizer().text(text, "test", form=True)
    for style, _name, value in pairs:
        shown = quote(value, safe="") if style == "form" else value
        assert shown not in clean


_VALID = (
    b'{"log": {"version": "1.2", "pages": [{"id": "p", "startedDateTime": "2023-10-01T00:00:00Z"}],'
    b' "entries": [{"startedDateTime": "2023-10-01T00:00:01Z", "request": {"url": "https://a/?code=abcdefgh",'
    b' "headers": [{"name": "Cookie", "value": "sid=abcdefghijkl"}]}, "response": {"content":'
    b' {"mimeType": "application/json", "encoding": "base64", "text": "eyJhIjogMX0="}}}]}}'
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(_VALID)), st.integers(0, len(_VALID)), st.binary(max_size=8))
def test_mangled_hars_fail_cleanly(cut: int, at: int, junk: bytes) -> None:
    """A cut or corrupted HAR gives an InputError or a result, never another exception."""
    import tempfile
    from pathlib import Path

    from keyreaper.errors import InputError
    from keyreaper.exposure import har

    data = _VALID[:cut] + junk + _VALID[cut:] if at % 2 else _VALID[:at]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.har"
        path.write_bytes(data)
        try:
            list(har.extract(path, har.HarStats()))
        except InputError as exc:
            assert str(path) in str(exc)
