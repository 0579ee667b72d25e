"""A small local web app with planted secrets, and a real HAR recorded from it by headless
Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"


def make_jwt(claims: dict[str, Any]) -> str:
    def enc(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'RS256', 'kid': 'k1'})}.{enc(claims)}.{secrets.token_urlsafe(40)}"


@dataclass(frozen=True)
class Planted:
    """Every secret the app hands out or receives; each must be found, then removed."""

    session_cookie: str
    idp_cookie: str
    oauth_code: str
    code_verifier: str
    access_token: str  # a JWT
    refresh_token: str
    id_token: str  # a JWT
    api_key: str
    cf_client_id: str
    cf_client_secret: str
    ssws_token: str
    basic_user: str
    basic_password: str
    saml_assertion_id: str
    saml_response: str

    def secrets(self) -> dict[str, str]:
        """Values that are secrets (the identifiers are not)."""
        skip = {"cf_client_id", "basic_user", "saml_assertion_id"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}


def make_planted() -> Planted:
    assertion_id = "_" + secrets.token_hex(16)
    saml_xml = (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}">'
        f"<saml:Subject>alice</saml:Subject><sig>{secrets.token_hex(32)}</sig></saml:Assertion>"
        "</samlp:Response>"
    )
    return Planted(
        session_cookie=secrets.token_urlsafe(32),
        idp_cookie=secrets.token_urlsafe(24) + "+/=",
        oauth_code=secrets.token_urlsafe(24),
        code_verifier=secrets.token_urlsafe(48),
        access_token=make_jwt({"sub": "alice", "jti": "AT." + secrets.token_urlsafe(12)}),
        refresh_token=secrets.token_urlsafe(40),
        id_token=make_jwt({"sub": "alice", "aud": "app"}),
        api_key="kr_" + secrets.token_hex(20),
        cf_client_id=secrets.token_hex(16) + ".access",
        cf_client_secret=secrets.token_hex(32),
        ssws_token="00" + secrets.token_urlsafe(30),
        basic_user="svc-backup",
        basic_password=secrets.token_urlsafe(18),
        saml_assertion_id=assertion_id,
        saml_response=base64.b64encode(saml_xml.encode()).decode(),
    )


def _page(p: Planted) -> str:
    """The app's page: its script walks through a login as a real front end would."""
    basic = base64.b64encode(f"{p.basic_user}:{p.basic_password}".encode()).decode()
    return f"""<!doctype html><html><head><title>app</title></head><body>
<form id="saml" method="POST" action="/saml/acs">
<input type="hidden" name="SAMLResponse" value="{p.saml_response}"></form>
<script>
async function run() {{
  const tok = await (await fetch('/oauth/token', {{method: 'POST',
    headers: {{'Content-Type': 'application/x-www-form-urlencoded'}},
    body: 'grant_type=authorization_code&code={p.oauth_code}&code_verifier={p.code_verifier}'}})).json();
  await fetch('/api/me', {{headers: {{'Authorization': 'Bearer ' + tok.access_token,
    'X-API-Key': '{p.api_key}'}}}});
  await fetch('/api/refresh', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify({{refresh_token: tok.refresh_token}})}});
  await fetch('/api/gateway', {{headers: {{'CF-Access-Client-Id': '{p.cf_client_id}',
    'CF-Access-Client-Secret': '{p.cf_client_secret}'}}}});
  await fetch('/api/v1/users', {{headers: {{'Authorization': 'SSWS {p.ssws_token}'}}}});
  await fetch('/backup', {{headers: {{'Authorization': 'Basic {basic}'}}}});
  document.title = 'done';
}}
run();
</script></body></html>"""


class _App(BaseHTTPRequestHandler):
    planted: Planted

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(
        self, status: int, body: bytes, ctype: str, headers: list[tuple[str, str]] = ()
    ) -> None:  # type: ignore[assignment]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        p = self.planted
        if self.path == "/login":
            self._send(
                302,
                b"",
                "text/plain",
                [
                    ("Set-Cookie", f"sid={p.session_cookie}; Path=/; HttpOnly"),
                    ("Set-Cookie", f'idx="{p.idp_cookie}"; Path=/; HttpOnly'),
                    ("Location", "/authorize"),
                ],
            )
        elif self.path == "/authorize":
            self._send(
                302, b"", "text/plain", [("Location", f"/callback?code={p.oauth_code}&state=st123")]
            )
        elif self.path.startswith("/callback"):
            self._send(200, _page(p).encode(), "text/html; charset=utf-8")
        else:
            self._send(200, b'{"ok": true}', "application/json")

    def do_POST(self) -> None:
        p = self.planted
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/oauth/token":
            body = {
                "access_token": p.access_token,
                "refresh_token": p.refresh_token,
                "id_token": p.id_token,
                "token_type": "Bearer",
            }
            self._send(200, json.dumps(body).encode(), "application/json")
        else:
            self._send(200, b'{"ok": true}', "application/json")


@dataclass(frozen=True)
class Recording:
    har: Path
    planted: Planted


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    """One real HAR, recorded once per session by headless Chromium against the local app."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Debian's chromium is missing (scripts/system-deps.sh)")
        pytest.skip("Debian's chromium is not installed (scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    planted = make_planted()
    handler = type("App", (_App,), {"planted": planted})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    har = tmp_path_factory.mktemp("har") / "session.har"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            context = browser.new_context(record_har_path=str(har), record_har_content="embed")
            page = context.new_page()
            base = f"http://127.0.0.1:{server.server_address[1]}"
            page.goto(f"{base}/login")
            page.wait_for_function("document.title === 'done'", timeout=20000)
            page.evaluate("document.getElementById('saml').submit()")
            page.wait_for_url(f"{base}/saml/acs", timeout=20000)
            context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    yield Recording(har, planted)
