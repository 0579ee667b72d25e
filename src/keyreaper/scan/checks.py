"""What separates a credential from text that only looks like one: entropy floors,
placeholders and documentation examples, checksums, and structure checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from collections import Counter

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Public documentation examples (AWS, jwt.io): never findings.
KNOWN_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        # Azurite, the local Azure Storage emulator: the same key in every install
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
        "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    }
)
# Published test keys, by SHA-256 of the canonical value (the keys themselves stay out of the
# repository): every install of these packages carries the same key, so it guards nothing.
KNOWN_TEST_KEYS = {
    # moto's HTTPS-intercept proxy CA and leaf keys (moto/moto_proxy/ca.key, cert.key)
    "0e93e5f13a4d24273abe31dba6527e3a617ab559288b02a0891b79227d657723": "moto proxy CA key",
    "3b1b6fc21837e17ffc935f12cb160332353b67d72e4ff1c783d0505f1ae12fa9": "moto proxy cert key",
}
# A value ending in an ellipsis was cut short by whoever wrote it down: an illustration.
_PLACEHOLDER_RE = re.compile(
    r"\.\.\.$|\u2026|x{5}|\*{4}|\.{4}|\$\{|\{\{|%\(|<[a-z_ -]{2,40}>|example|changeme|change_me|change-me|"
    r"placeholder|redacted|dummy|insecure|your[_-]|_here\b|^<|^\$[A-Za-z_(]|0{12}",
    re.IGNORECASE,
)
# Values that are words a human typed in a template, not secrets.
_WEAK = frozenset(
    [
        "password",
        "pass",
        "passwd",
        "pwd",
        "secret",
        "token",
        "changeme",
        "admin",
        "root",
        "user",
        "username",
        "test",
        "testing",
        "default",
        "none",
        "null",
        "true",
        "false",
        "undefined",
        "pa55word",
        "p@ssw0rd",
        "password1",
        "password123",
        "letmein",
        "qwerty",
        "hunter2",
        "abc123",
        "foobar",
        "mypassword",
        "dbpassword",
        "secretkey",
    ]
)
_GENERIC_WORDS = re.compile(
    r"test|fake|sample|mock|example|dummy|secret|password|token|key|bearer|string|value|"
    r"config|settings|environ|getenv|lambda|function|return|self\.|this\.|null|none|undefined",
    re.IGNORECASE,
)
_HASH_RE = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$", re.IGNORECASE)
_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_placeholder(value: str) -> bool:
    return (
        value in KNOWN_EXAMPLES
        or bool(_PLACEHOLDER_RE.search(value))
        or (len(value) > 100 and hashlib.sha256(value.encode()).hexdigest() in KNOWN_TEST_KEYS)
    )


# Tokens that grant nothing though their key says "token": idempotency and request tokens
# (AWS ClientRequestToken), pagination cursors (S3 NextContinuationToken), optimistic-lock
# and change tokens (WAF ChangeToken), and SES/domain verification tokens, which are published
# in DNS by design. Matched against the key name just before a keyword-anchored value.
_NOT_CREDENTIAL_KEY = re.compile(
    rb"(?i)(?:request|idempoten(?:t|cy)|continuation|pagination|page|next|change|update|"
    rb"sync|lifecycle[_-]?action|verification|purchase|cursor)[_-]?tokens?\b[^A-Za-z0-9\n]*$"
)


def not_credential_key(data: bytes, secret_start: int) -> bool:
    """True when the key just before a value names a non-credential token."""
    return bool(_NOT_CREDENTIAL_KEY.search(data, max(0, secret_start - 80), secret_start))


# A line that is a documentation or description field: prose that describes a token format
# (botocore's service-2.json "documentation" strings quote sample SAS tokens).
_PROSE_LINE = re.compile(
    rb"[ \t]*[\"']?(?:documentation|description|summary|examples?|docstring|help)[\"']?[ \t]*[:=]"
)
# Formats whose checksum proves a real generator made the token: reported even in prose.
CHECKSUMMED = frozenset({"github-crc32", "npm-crc32"})


def in_prose(data: bytes, offset: int) -> bool:
    """True when `offset` sits on a documentation/description line (looked up to 4 KB back)."""
    low = max(0, offset - 4096)
    newline = data.rfind(b"\n", low, offset)
    if newline < 0 and low > 0:
        return False  # a line longer than 4 KB: minified text, not a field of prose
    return bool(_PROSE_LINE.match(data, newline + 1, offset))


# File names that say they hold examples: botocore's examples-1.json, .env.example,
# settings.sample.py. A keyword-anchored value there is illustrative; a token of a provider's
# exact format is still reported (real keys do get pasted into samples).
_EXAMPLE_FILE = re.compile(r"(?i)(?:^|[._-])(?:examples?|samples?)(?:[._-]|$)")


def example_file(location: str) -> bool:
    name = re.split(r"[/\\!]", location)[-1]
    return bool(_EXAMPLE_FILE.search(name))


def canonical(kind: str, value: str) -> str:
    """The form that is fingerprinted: a PEM key rebuilt from its base64 body, so the same key
    found plain, JSON-escaped or in a YAML block gets one fingerprint."""
    if kind != "pem":
        return value
    text = value.replace("\\r", "\n").replace("\\n", "\n")
    m = _PEM_RE.search(text)
    if not m:
        return value
    label, body = m.group(1), m.group(2)
    lines = [ln.strip().strip("\"',+ ") for ln in body.splitlines()]
    headers = [ln for ln in lines if ":" in ln]
    data = "".join(ln for ln in lines if ln and ":" not in ln)
    data = re.sub(r"[^A-Za-z0-9+/=]", "", data)
    wrapped = "\n".join(data[i : i + 64] for i in range(0, len(data), 64))
    head = "\n".join(headers) + "\n\n" if headers else ""
    return f"-----BEGIN {label}-----\n{head}{wrapped}\n-----END {label}-----\n"


def measured(kind: str, value: str) -> str:
    """The part of the secret whose entropy counts (a PEM key's body, not its header)."""
    if kind == "pem":
        m = _PEM_RE.search(value)
        if m:
            return re.sub(r"[^A-Za-z0-9+/]", "", m.group(2))
    return value


def _crc_ok(body: str) -> bool:
    if len(body) != 36:
        return False
    n = zlib.crc32(body[:30].encode())
    digits = ""
    while n:
        n, r = divmod(n, 62)
        digits = _B62[r] + digits
    return digits.rjust(6, "0") == body[30:]


def _b64decode(value: str, urlsafe: bool = False) -> bytes | None:
    padded = value + "=" * (-len(value) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _printable(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text) and all(c.isprintable() or c in "\r\n\t" for c in text)


def _password_ok(value: str) -> bool:
    low = value.lower().strip("'\"")
    if low in _WEAK or len(low) < 4 or is_placeholder(value):
        return False
    return not (low.startswith(("$", "%", "{", "<", "@")) or low.endswith("}"))


def _generic_ok(value: str) -> bool:
    if not _password_ok(value) or _HASH_RE.match(value) or _GENERIC_WORDS.search(value):
        return False
    classes = sum(
        bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    if classes < 2 or not re.search(r"[0-9]", value):
        return False
    # identifiers, dotted names, paths and URLs are code, not credentials
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(?:[.:/-][A-Za-z_][A-Za-z0-9_]*)+", value):
        return False
    return not re.search(r"://|^/|\.(?:py|js|json|txt|html|yaml|yml|pem|key|crt)$", value)


def _jwt_ok(value: str) -> bool:
    parts = value.split(".")
    if len(parts) != 3:
        return False
    for part in parts[:2]:
        raw = _b64decode(part, urlsafe=True)
        try:
            obj = json.loads(raw or b"")
        except ValueError:
            return False
        if not isinstance(obj, dict):
            return False
        if part is parts[0] and str(obj.get("alg", "none")).lower() == "none":
            return False
    return True


def _basic_ok(value: str) -> bool:
    raw = _b64decode(value)
    if raw is None or not _printable(raw):
        return False
    user, sep, password = raw.decode("utf-8").partition(":")
    return bool(sep and user) and _password_ok(password)


def _b64text_ok(value: str) -> bool:
    raw = _b64decode(value)
    return raw is not None and _printable(raw) and _password_ok(raw.decode("utf-8"))


CHECKS = {
    "github-crc32": lambda v: _crc_ok(v.split("_")[-1]),
    "npm-crc32": lambda v: _crc_ok(v[4:]),
    "jwt": _jwt_ok,
    "basic": _basic_ok,
    "b64text": _b64text_ok,
    "password": _password_ok,
    "generic": _generic_ok,
}


def passes(check: str, value: str) -> bool:
    if not check:
        return True
    func = CHECKS.get(check)
    if func is None:
        raise KeyError(f"unknown check {check!r}")
    return bool(func(value))
