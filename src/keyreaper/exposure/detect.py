"""What counts as a secret inside an HTTP exchange: names, schemes and patterns.

Shared by the extractor (which fingerprints what it finds) and the sanitizer (which removes
it and more), so the sanitizer removes at least everything the extractor finds by construction.
Hits carry the plaintext in memory only; callers wrap it in Secret or replace it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus, urlsplit

from keyreaper.exposure import textscan
from keyreaper.exposure.names import (
    ident_kind,
    param_kind,
)

SECRET_HEADERS = {
    "x-api-key": "api_key",
    "api-key": "api_key",
    "apikey": "api_key",
    "x-apikey": "api_key",
    "x-goog-api-key": "api_key",
    "ocp-apim-subscription-key": "api_key",
    "x-functions-key": "api_key",
    "private-token": "api_token",
    "x-auth-token": "auth_token",
    "x-access-token": "access_token",
    "x-vault-token": "api_token",
    "cf-access-client-secret": "service_token_secret",
    "cf-access-token": "jwt",
    "cf-access-jwt-assertion": "jwt",
    "x-amz-security-token": "aws_session_token",
}
IDENT_HEADERS = {"cf-access-client-id": "service_token_id"}
URL_HEADERS = frozenset({"referer", "location", "content-location", "origin", "link", "refresh"})
_SECRET_NAME_WORDS = frozenset(
    [
        "token",
        "secret",
        "session",
        "password",
        "passwd",
        "auth",
        "signature",
        "credential",
        "credentials",
        "jwt",
        "csrf",
        "xsrf",
        "apikey",
        "sessionid",
    ]
)
_NOT_SECRET_HEADERS = frozenset({"sec-websocket-key", "sec-websocket-accept", "public-key-pins"})
# CamelCase names arrive lowercased with no separator (Okta's X-Okta-XsrfToken, Django's
# X-CSRFToken): a word that ends with one of these, or starts with csrf/xsrf, is secret too.
_SECRET_SUFFIXES = (
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "credential",
    "credentials",
)


@functools.lru_cache(maxsize=4096)
def header_name_role(name: str) -> tuple[str, str | None]:
    """(lowercase name, role) for a header name as written; cached, names repeat a lot."""
    lower = name.lower()
    return lower, header_role(lower)


@functools.lru_cache(maxsize=4096)
def header_role(lower: str) -> str | None:
    """How a request/response header is treated, from its lowercase name."""
    if lower in ("authorization", "proxy-authorization"):
        return "authorization"
    if lower == "cookie":
        return "cookie"
    if lower == "set-cookie":
        return "set_cookie"
    if lower in IDENT_HEADERS:
        return "identifier"
    if lower in SECRET_HEADERS:
        return "secret"
    if lower in URL_HEADERS:
        return "url"
    if lower not in _NOT_SECRET_HEADERS:
        words = set(re.split(r"[-_]", lower))
        if words & _SECRET_NAME_WORDS or "apikey" in lower.replace("-", "").replace("_", ""):
            return "secret"
        if any(w.endswith(_SECRET_SUFFIXES) or w.startswith(("csrf", "xsrf")) for w in words):
            return "secret"
    return None


def header_kind(lower: str) -> str:
    return SECRET_HEADERS.get(lower, "header_secret")


@dataclass(frozen=True, slots=True)
class Hit:
    """One secret (or identifier) found: plaintext in memory only, and where in the text."""

    kind: str
    value: str
    name: str
    identifier: str = ""
    start: int = -1
    end: int = -1


# -- JWTs -------------------------------------------------------------------------------------

JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
JWT_BYTES_RE = re.compile(rb"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")


def jwt_id(token: str) -> str:
    """The token's `jti` claim, an identifier logs may record; '' when absent or unreadable."""
    if not token.startswith("eyJ"):
        return ""
    parts = token.split(".")
    if len(parts) < 2 or len(parts[1]) > 65536:
        return ""
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, binascii.Error, RecursionError):
        return ""
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) and 0 < len(jti) <= 200 else ""


def jwt_strip(token: str) -> str:
    """Header and payload kept for debugging; the signature, which makes it usable, removed."""
    head, _, rest = token.partition(".")
    payload = rest.partition(".")[0]
    return f"{head}.{payload}.redacted"


def jwt_hits(text: str) -> Iterator[Hit]:
    if "eyJ" not in text:
        return
    for m in JWT_RE.finditer(text):
        token = m.group(0)
        yield Hit("jwt", token, "jwt", jwt_id(token), m.start(), m.end())


# -- Authorization, cookies -------------------------------------------------------------------

_SCHEME_KINDS = {
    "bearer": "bearer_token",
    "ssws": "okta_api_token",
    "token": "api_token",
    "apikey": "api_key",
    "negotiate": "authorization",
    "ntlm": "authorization",
}


def authorization(value: str, name: str) -> Iterator[Hit]:
    """Bearer/SSWS/Basic/custom schemes; Basic yields the password with the user as identifier."""
    value = value.strip()
    scheme, _, cred = value.partition(" ")
    cred = cred.strip()
    start = len(value) - len(cred)
    if not cred:
        yield Hit("authorization", value, name, jwt_id(value), 0, len(value))
        return
    lower = scheme.lower()
    if lower == "basic":
        try:
            user, sep, password = base64.b64decode(cred, validate=True).decode().partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if sep and password:
            yield Hit("basic_password", password, name, user, start, len(value))
        else:
            yield Hit("basic_credentials", cred, name, "", start, len(value))
        return
    if lower == "digest":
        return  # a digest response is not replayable; the sanitizer still removes it
    if lower == "aws4-hmac-sha256":
        m = re.search(r"Credential=([A-Z0-9]{16,32})/", cred)
        if m:
            yield Hit("aws_access_key_id", "", name, m.group(1))
        return
    kind = _SCHEME_KINDS.get(lower, "authorization")
    yield Hit(kind, cred, name, jwt_id(cred), start, len(value))


def cookie_pairs(header: str) -> Iterator[tuple[str, str, int, int]]:
    """(name, value, start, end) for each cookie in a Cookie header."""
    pos = 0
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            vstart = pos + len(name) + 1
            stripped = value.strip()
            lead = len(value) - len(value.lstrip())
            if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
                stripped, lead = stripped[1:-1], lead + 1  # DQUOTE is syntax (RFC 6265)
            if stripped:
                yield name.strip(), stripped, vstart + lead, vstart + lead + len(stripped)
        pos += len(part) + 1


def cookie_value(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def set_cookie_pair(header: str) -> tuple[str, str, int, int] | None:
    first = header.split(";", 1)[0]
    for pair in cookie_pairs(first):
        return pair
    return None


def pair_hits(text: str, form: bool = False) -> Iterator[Hit]:
    """Secrets and identifiers among the name=value pairs and JWTs of a text."""
    for p in textscan.text_pairs(text, form):
        kind = param_kind(p.name)
        if kind and p.value:
            yield Hit(kind, p.value, p.name, _pair_ident(kind, p.value), p.start, p.end)
        elif (ikind := ident_kind(p.name)) and p.value:
            yield Hit(ikind, "", p.name, _ident_value(ikind, p.value), p.start, p.end)
    yield from jwt_hits(text)


def _ident_value(kind: str, value: str) -> str:
    return value.split("/", 1)[0] if kind == "aws_access_key_id" else value


_SAML_ID = re.compile(rb"<(?:\w+:)?Assertion\b[^>]*?\sID=\"([^\"]{1,200})\"")


def _pair_ident(kind: str, value: str) -> str:
    """An identifier inside the secret itself: a JWT's jti, a SAML assertion's ID."""
    if value.startswith("eyJ"):
        return jwt_id(value)
    if kind == "saml_response" and len(value) < 4 * 2**20:
        try:
            xml = base64.b64decode(value)
        except (ValueError, binascii.Error):
            return ""
        m = _SAML_ID.search(xml)
        return m.group(1).decode("utf-8", "replace") if m else ""
    return ""


# -- URLs -------------------------------------------------------------------------------------


def url_hits(url: str) -> Iterator[Hit]:
    """Secrets in a URL: query and fragment parameters, user:password, JWTs anywhere.
    Hand-split rather than urlsplit/parse_qsl: this runs on every request URL."""
    if "=" not in url and "@" not in url and "eyJ" not in url:
        return
    base, _, fragment = url.partition("#")
    head, _, query = base.partition("?")
    if "@" in head:
        try:
            parts = urlsplit(head)
            password, user = parts.password, parts.username
        except ValueError:
            password, user = None, None
        if password:
            yield Hit("url_password", unquote(password), "userinfo", unquote(user or ""))
    for section in (query, fragment):
        if "=" not in section:
            continue
        for part in section.split("&"):
            name, eq, value = part.partition("=")
            if not eq or not value:
                continue
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            kind = param_kind(name)
            if kind:
                if "%" in value or "+" in value:
                    value = unquote_plus(value)
                yield Hit(kind, value, name, _pair_ident(kind, value))
            elif ikind := ident_kind(name):
                yield Hit(ikind, "", name, _ident_value(ikind, unquote_plus(value)))
    if "eyJ" in url:
        yield from jwt_hits(url)


_TOKENISH = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-.~+=%]{20,}$")


def safe_url(url: str, limit: int = 300) -> str:
    """A URL fit for evidence: no userinfo, no fragment, query names without values,
    token-like path segments masked. Hand-split: this runs once per HAR entry."""
    if url[:5].lower() == "data:":
        return "data:…"
    url = url.split("#", 1)[0]
    base, _, query = url.partition("?")
    scheme, sep, rest = base.partition("://")
    if not sep:
        scheme, rest = "", base
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    segments = [
        "…" if len(s) >= 20 and (_TOKENISH.match(s) or "eyJ" in s) else s for s in path.split("/")
    ]
    out = f"{scheme}{sep}{authority}{slash}{'/'.join(segments)}"
    if query:
        names = [p.partition("=")[0] for p in query.split("&")[:20] if p]
        out += "?" + "&".join(f"{n}=…" for n in names)
    return out[:limit]
