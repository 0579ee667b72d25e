"""What the extractor takes from single headers, parameters and texts: (input, expected) tables."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from keyreaper.exposure import detect, har, textscan
from keyreaper.exposure.detect import safe_url

TOKEN = "Zx9" * 10


@pytest.mark.parametrize(
    ("name", "value", "kind", "secret", "identifier"),
    [
        ("Authorization", f"Bearer {TOKEN}", "bearer_token", TOKEN, ""),
        ("authorization", f"SSWS {TOKEN}", "okta_api_token", TOKEN, ""),
        (
            "Authorization",
            "Basic " + base64.b64encode(b"svc:" + TOKEN.encode()).decode(),
            "basic_password",
            TOKEN,
            "svc",
        ),
        ("Authorization", f"Custom-Scheme {TOKEN}", "authorization", TOKEN, ""),
        ("Authorization", TOKEN, "authorization", TOKEN, ""),
        ("Proxy-Authorization", f"Bearer {TOKEN}", "bearer_token", TOKEN, ""),
        ("X-API-Key", TOKEN, "api_key", TOKEN, ""),
        ("X-Auth-Token", TOKEN, "auth_token", TOKEN, ""),
        ("CF-Access-Client-Secret", TOKEN, "service_token_secret", TOKEN, ""),
        ("X-Custom-Session-Token", TOKEN, "header_secret", TOKEN, ""),
        ("X-Okta-XsrfToken", TOKEN, "header_secret", TOKEN, ""),
        ("X-CSRFToken", TOKEN, "header_secret", TOKEN, ""),
        ("X-Amz-Security-Token", TOKEN, "aws_session_token", TOKEN, ""),
        ("Cookie", f'a=1; sid="{TOKEN}"', "cookie", TOKEN, ""),
        ("Set-Cookie", f"sid={TOKEN}; Path=/; HttpOnly", "cookie", TOKEN, ""),
        ("Location", f"https://app/cb?state=s&code={TOKEN}", "oauth_code", TOKEN, ""),
        ("Referer", f"https://idp/#access_token={TOKEN}&x=1", "access_token", TOKEN, ""),
        ("Referer", f"https://user:{TOKEN}@host/", "url_password", TOKEN, "user"),
    ],
)
def test_header_table(name: str, value: str, kind: str, secret: str, identifier: str) -> None:
    hits = [h for h in har.header_hits([{"name": name, "value": value}]) if h.value == secret]
    assert hits, f"{name}: nothing found"
    assert hits[0].kind == kind and hits[0].identifier == identifier


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("User-Agent", "Mozilla/5.0"),
        ("sec-websocket-key", TOKEN),
        (":authority", "app.example.com"),
        ("WWW-Authenticate", 'Bearer realm="x"'),
        ("Accept", "text/html"),
    ],
)
def test_harmless_headers_yield_nothing(name: str, value: str) -> None:
    assert har.header_hits([{"name": name, "value": value}]) == []


@pytest.mark.parametrize(
    ("text", "form", "kind"),
    [
        (f'{{"access_token": "{TOKEN}", "token_type": "Bearer"}}', False, "access_token"),
        (f'{{"sessionToken":"{TOKEN}"}}', False, "session_token"),
        (f"grant_type=refresh_token&refresh_token={TOKEN}", True, "refresh_token"),
        (f"client_id=app&client_secret={TOKEN}", True, "client_secret"),
        (f'<input type="hidden" name="SAMLResponse" value="{TOKEN}">', False, "saml_response"),
        (
            f'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n{TOKEN}\r\n',
            False,
            "password",
        ),
        (f"code_verifier={TOKEN}", True, "code_verifier"),
    ],
)
def test_body_table(text: str, form: bool, kind: str) -> None:
    hits = list(detect.pair_hits(text, form))
    assert any(h.kind == kind and h.value == TOKEN for h in hits), hits


def test_whole_words_only() -> None:
    assert not [h for h in detect.pair_hits(f"barcode={TOKEN}&a.code={TOKEN}") if h.value]


def test_client_id_travels_with_its_secret() -> None:
    hits = har.param_hits(
        [{"name": "client_id", "value": "app-1"}, {"name": "client_secret", "value": TOKEN}]
    )
    assert [(h.kind, h.identifier) for h in hits] == [("client_secret", "app-1")]


def test_jwt_keeps_claims_loses_signature() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJBVC4xMjMifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    (hit,) = detect.jwt_hits(f"x {jwt} y")
    assert hit.identifier == "AT.123"
    assert detect.jwt_strip(jwt) == "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJBVC4xMjMifQ.redacted"


def test_safe_url_drops_every_value() -> None:
    url = f"https://u:{TOKEN}@app.example.com/reset/{TOKEN}1/x?code={TOKEN}&page=2#access_token={TOKEN}"
    shown = safe_url(url)
    assert TOKEN not in shown and shown == "https://app.example.com/reset/…/x?code=…&page=…"


def test_prefilter_and_plain_re_agree(tmp_path: Path) -> None:
    """hyperscan only narrows where `re` reads: both paths find the same pairs."""
    texts = [
        f'{{"items": [1, 2], "nested": {{"refresh_token": "{TOKEN}"}}, "code": "{TOKEN}2"}}',
        "x" * 70000 + f"&state=abc&password={TOKEN}",
        f"<html><input name='authenticity_token' value='{TOKEN}'></html>" + "é",
        "nothing here " * 100,
    ]
    with_hs = [[(p.name, p.value, p.start) for p in textscan.text_pairs(t)] for t in texts]
    textscan.use_hyperscan(False)
    try:
        without = [[(p.name, p.value, p.start) for p in textscan.text_pairs(t)] for t in texts]
    finally:
        textscan.use_hyperscan(True)
    assert [sorted(x) for x in with_hs] == [sorted(x) for x in without]
    assert with_hs[0] and with_hs[1] and with_hs[2] and not with_hs[3]


def test_regexes_do_not_backtrack_catastrophically() -> None:
    import time

    hostile = [
        '"access_token": "' + "\\" * 50000,
        "code=" + "=" * 50000,
        "<input " + "a" * 50000,
        "eyJ" + "a." * 30000,
    ]
    for text in hostile:
        started = time.monotonic()
        list(detect.pair_hits(text))
        assert time.monotonic() - started < 2, text[:20]
    assert re.compile(textscan.NAMES)


def test_echo_removal_same_with_and_without_hyperscan() -> None:
    from keyreaper.exposure.sanitize import Echoes, _forms

    secret = "s3cr3t+/value=" + TOKEN
    values = {form: "cookie" for form in _forms(secret)}
    blob = base64.b64encode(b"user:" + secret.encode()).decode()
    from urllib.parse import quote

    text = f"a {secret} b {quote(secret, safe='')} c {blob} é"
    results = []
    for use in (True, False):
        echoes = Echoes(values, use_hyperscan=use)
        results.append(echoes.replace(text, lambda kind, value: "[x]"))
        results.append(echoes.replace(text.replace(" é", ""), lambda kind, value: "[x]"))
    assert results[0] == results[2] and results[1] == results[3]
    for r in results:
        assert secret not in r and quote(secret, safe="") not in r and blob not in r
