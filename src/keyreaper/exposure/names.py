"""The parameter names that carry secrets or identifiers, and Cloudflare's sanitizer words."""

from __future__ import annotations

# Parameter / JSON key / form field names whose value is a secret, by kind.
SECRET_PARAMS = {
    "code": "oauth_code",
    "code_verifier": "code_verifier",
    "access_token": "access_token",
    "refresh_token": "refresh_token",
    "id_token": "id_token",
    "token": "token",
    "session_token": "session_token",
    "state_token": "session_token",
    "auth_token": "token",
    "client_secret": "client_secret",
    "client_assertion": "assertion",
    "assertion": "assertion",
    "password": "password",
    "passwd": "password",
    "secret": "secret",
    "api_key": "api_key",
    "apikey": "api_key",
    "private_key": "private_key",
    "saml_request": "saml_request",
    "saml_response": "saml_response",
    "authenticity_token": "csrf_token",
    "csrf_token": "csrf_token",
    "session_id": "session_id",
    "sessionid": "session_id",
    "x_amz_security_token": "aws_session_token",
    "x_amz_signature": "signature",
    "signature": "signature",
    "sig": "signature",
}
# Names whose value identifies a credential (matched against inventory identifiers).
IDENT_PARAMS = {
    "client_id": "client_id",
    "x_amz_credential": "aws_access_key_id",
    "aws_access_key_id": "aws_access_key_id",
    "access_key_id": "aws_access_key_id",
}
# Cloudflare's har-sanitizer default word list (as names), removed by our sanitizer too.
CLOUDFLARE_WORDS = [
    "state",
    "shdf",
    "usg",
    "password",
    "email",
    "code",
    "code_verifier",
    "client_secret",
    "client_id",
    "code_challenge",
    "token",
    "access_token",
    "authenticity_token",
    "id_token",
    "appID",
    "challenge",
    "facetID",
    "assertion",
    "fcParams",
    "serverData",
    "Authorization",
    "auth",
    "x-client-data",
    "SAMLRequest",
    "SAMLResponse",
    "vses2",
]


def norm(name: str) -> str:
    """Names compare without case, dashes or underscores: accessToken == access_token."""
    return name.lower().replace("-", "").replace("_", "")


_SECRET_NORM = {norm(k): v for k, v in SECRET_PARAMS.items()}
_IDENT_NORM = {norm(k): v for k, v in IDENT_PARAMS.items()}
SANITIZE_NORM = (
    frozenset(_SECRET_NORM) | frozenset(_IDENT_NORM) | {norm(w) for w in CLOUDFLARE_WORDS}
)


def param_kind(name: str) -> str | None:
    return _SECRET_NORM.get(norm(name))


def ident_kind(name: str) -> str | None:
    return _IDENT_NORM.get(norm(name))
