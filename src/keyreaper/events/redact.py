"""Secrets in log records are not kept: values of secret-named JSON keys and URL query
parameters become "[REDACTED]" in the stored raw record (the normalized columns are taken
before, and never hold such values). keyreaper must not become a plaintext copy of the
secrets its inputs happen to carry (an Okta clientSecret, a token in a query string)."""

from __future__ import annotations

import re

# Key names ending in one of these words (clientSecret, sessionToken, x-api-key, password,
# also hashed_token: a hash of a token is kept out too); ids (requestApiTokenId, token_id)
# do not end in them and stay.
WORDS = _WORDS = (
    r"(?:secret|password|passwd|pwd|token|api_?key|apikey|private_?key|authorization|cookie)"
)
KEY_PATTERN = r'"((?:[A-Za-z0-9_.-]*?[_.-]?)' + _WORDS + r')"\s*:\s*"(?:[^"\\]|\\.)*"'
_KEY = re.compile(KEY_PATTERN, re.IGNORECASE)
_QUICK = re.compile(r"(?i)secret|passw|pwd|token|api_?key|private|authorization|cookie")
_QUERY = re.compile(
    r"(?i)([?&;](?:[A-Za-z0-9_.-]*?)"
    r"(?:secret|password|passwd|pwd|token|api_?key|apikey|key|sig|signature|auth|session)=)"
    r"[^&\s\"]*"
)
REDACTED = "[REDACTED]"


def _replace(match: re.Match[str]) -> str:
    return f'"{match.group(1)}":"{REDACTED}"'


def json_text(raw: str) -> str:
    """Redact secret-named string values in a JSON text (only when a quick scan hints)."""
    if not _QUICK.search(raw):
        return raw
    return _KEY.sub(_replace, raw)


def query_strings(line: str) -> str:
    """Redact secret-looking URL query parameter values in a text line."""
    if "=" not in line:
        return line
    return _QUERY.sub(lambda m: m.group(1) + REDACTED, line)


# The same rule for DuckDB (RE2 syntax; no lazy quantifier needed: anchored on the quote).
DUCKDB_KEY = r'"([A-Za-z0-9_.-]*' + _WORDS + r')"\s*:\s*"(?:[^"\\]|\\.)*"'
# The quick test is exact (a secret-named key followed by a colon), so the costlier
# replacement runs only on records that hold one.
DUCKDB_QUICK = r"(?i)" + _WORDS + r'"\s*:'
