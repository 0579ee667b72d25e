"""The report in real headless Chromium (Debian's, never a downloaded one): it renders with
no console error and no request but the file itself, every picture has a size, hostile names
stay text, and the CSP stops a request even when markup is injected into the page."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.report.conftest import IMG, SCRIPT, Incident

CHROMIUM = "/usr/bin/chromium"


class _Counter(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def chromium() -> Any:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Debian's chromium is missing (scripts/system-deps.sh)")
        pytest.skip("Debian's chromium is not installed (scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def test_report_renders_offline_under_its_csp(incident: Incident, chromium: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        console: list[str] = []
        requests: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        url = incident.report.resolve().as_uri()
        page.goto(url)
        page.wait_for_load_state("load")
        assert console == [] and dialogs == []
        assert requests == [url]
        sizes = page.eval_on_selector_all(
            "svg",
            "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
        )
        assert len(sizes) >= 5 and all(w > 100 and h > 20 for w, h in sizes), sizes
        assert page.locator("#timeline svg circle").count() > 100
        text = page.inner_text("#hunt")
        assert SCRIPT in text and IMG in text  # shown as text, not run
        assert page.locator("#hunt img, script").count() == 0
        csp = page.get_attribute('meta[http-equiv="Content-Security-Policy"]', "content")
        assert csp == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        # Markup that slipped in would still fetch nothing: the policy blocks it.
        base = f"http://127.0.0.1:{server.server_address[1]}"
        violations = page.evaluate(
            """base => new Promise(done => {
                const seen = [];
                document.addEventListener('securitypolicyviolation', e => seen.push(e.violatedDirective));
                const img = document.createElement('img');
                img.src = base + '/img.png';
                document.body.appendChild(img);
                const link = document.createElement('link');
                link.rel = 'stylesheet'; link.href = base + '/style.css';
                document.head.appendChild(link);
                setTimeout(() => done(seen), 500);
            })""",
            base,
        )
        assert set(violations) >= {"img-src", "style-src-elem"}, violations
        assert _Counter.hits == []
        page.emulate_media(media="print")  # printable on A4: nothing wider than the page
        page.set_viewport_size({"width": 720, "height": 1000})
        assert page.evaluate("document.documentElement.scrollWidth") <= 725
        assert page.eval_on_selector("#timeline svg", "e => e.getBoundingClientRect().width") > 100
    finally:
        server.shutdown()
        server.server_close()
