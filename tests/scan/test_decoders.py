"""Secrets hidden by encodings are found, with the encoding chain reported."""

from __future__ import annotations

import base64
import json
import quopri
import urllib.parse

import pytest

from keyreaper.scan.engine import Engine
from tests.scan.conftest import aws_pair, github_token


def _found(engine: Engine, data: bytes) -> dict[str, tuple[str, ...]]:
    return {m.value: m.encodings for m in engine.scan(data)}


def test_base64_blob(engine: Engine) -> None:
    tok = github_token(seed=1)
    blob = base64.b64encode(f"export GITHUB_TOKEN={tok}\n".encode()).decode()
    assert _found(engine, f"config: {blob}\n".encode())[tok] == ("base64",)


def test_url_encoded_with_key_name_outside(engine: Engine) -> None:
    _key_id, secret = aws_pair(seed=2)
    secret = secret[:10] + "/+" + secret[12:]
    enc = urllib.parse.quote(secret, safe="")
    assert "%2F" in enc or "%2B" in enc
    text = f"aws_secret_access_key={enc}&x=1".encode()
    assert _found(engine, text)[secret] == ("url",)


def test_json_escaped_private_key_same_fingerprint_as_plain(engine: Engine) -> None:
    body = base64.b64encode(bytes(range(256)) * 2).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = (
        "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----\n"
    )
    plain = _found(engine, pem.encode())
    escaped = _found(engine, json.dumps({"key": pem}).encode())
    assert list(plain) == list(escaped)  # canonical PEM: one fingerprint for both forms


def test_json_double_encoded(engine: Engine) -> None:
    tok = "xoxb-123456789012-1234567890123-" + "aB3dE5fG7hJ9kL1mN3pQ5rS7"
    inner = json.dumps({"url": "https:\\/\\/x", "slack": tok})
    assert tok in _found(engine, json.dumps({"payload": inner}).encode())


def test_quoted_printable_soft_breaks(engine: Engine) -> None:
    tok = github_token(seed=3)
    body = quopri.encodestring(
        f"Here is the token=3D {tok} for you".encode() + b" " * 70 + tok.encode()
    )
    mail = b"Content-Transfer-Encoding: quoted-printable\n\n" + body
    assert tok in _found(engine, mail)


def test_nested_base64_inside_url_encoding(engine: Engine) -> None:
    tok = github_token(seed=4)
    b64 = base64.b64encode(f"token={tok}".encode()).decode()
    text = ("next=" + urllib.parse.quote(f"data={b64}", safe="")).encode()
    encodings = _found(engine, text).get(tok)
    assert encodings is not None and "base64" in encodings


def test_decode_depth_limit(all_rules: list) -> None:  # type: ignore[type-arg]
    tok = github_token(seed=5)
    blob = f"t={tok}".encode()
    for _ in range(4):
        blob = b"v=" + base64.b64encode(blob)
    assert tok not in _found(Engine(all_rules, max_depth=2), blob)
    assert tok in _found(Engine(all_rules, max_depth=5), blob)


def test_json_lone_surrogate_escape_does_not_fail_the_item(engine: Engine) -> None:
    # moto and botocore ship JSON with "\ud800"-style escapes: the item must still be scanned
    tok = github_token(seed=5)
    text = '{"range": "[\\ud800-\\udbff]", "a": "\\/", "token": "' + tok + '"}\n'
    assert tok in _found(engine, text.encode())


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # a JSON string value that is a config file of its own: line-anchored rules see lines
        ('{"config": "users:\\n- name: a\\n  user:\\n    token: {t}\\n"}', "kubeconfig-token"),
        ('{"config": "client_secret = \\"{t}\\""}', "generic-secret-assignment"),
        ('{"config": "<add key=\\"x\\" password=\\"{t}\\"/>"}', "generic-xml-secret"),
        # a query parameter whose value is itself an assignment
        ("https://h.io/cb?cfg=export%20APP_SECRET%3D{t}", "generic-env-secret"),
        ("https://h.io/cb?cfg=%20%20client_secret%3A%20{t}", "generic-yaml-secret"),
    ],
)
def test_values_that_are_lines_of_their_own(engine: Engine, text: str, rule: str) -> None:
    secret = "9ee699a8HXreuYmR4GVgFJxM3ElqX4oC"
    found = {m.rule.id: m.value for m in engine.scan(text.replace("{t}", secret).encode())}
    # catch-alls overlap (an XML password attribute is also a password assignment)
    generic = engine.by_id[rule].generic and any(engine.by_id[r].generic for r in found)
    assert rule in found or generic, sorted(found)
    assert secret in found.values()


def test_json_value_with_plain_text_is_not_rescanned_as_lines(engine: Engine) -> None:
    # no escape and no assignment in the value: the JSON trigger stays quiet
    assert engine.scan(b'{"url": "https://example.org/a", "name": "plain words here"}\n') == []
