"""Okta API-token inventory through keyreaper's client vs a bare httpx loop over the same pages.

Both walk every page of /api/v1/api-tokens on the local Okta org (tests/servers/okta.py) by
following Link rel="next"; keyreaper also tracks rate-limit headers, clears cookies, checks
each link stays on the org and builds a Credential per token. The ratio is the cost of that.
Size: TOKENS tokens, PAGE per page (Okta's maximum is 200).
"""

from __future__ import annotations

import os
import sys

from tests.servers.okta import FakeOkta

from bench.common import REPO, Runner, alternate, report

TOKENS = int(os.environ.get("KR_BENCH_OKTA_TOKENS", "20000"))
PAGE = 200

KEYREAPER = """
import sys
from keyreaper.domain import Secret
from keyreaper.providers.okta import OktaProvider
p = OktaProvider(sys.argv[1], Secret(sys.argv[2]), page_size=int(sys.argv[3]))
n = sum(1 for c in p.inventory() if c.kind == "api_token")
print(n)
"""

BARE = """
import sys, httpx
c = httpx.Client(headers={"Authorization": "SSWS " + sys.argv[2]})
url, n = sys.argv[1] + "/api/v1/api-tokens?limit=" + sys.argv[3], 0
while url:
    r = c.get(url)
    n += len(r.json())
    url = r.links.get("next", {}).get("url")
print(n)
"""


def main() -> None:
    fake = FakeOkta()
    url = fake.start()
    admin = fake.add_user("admin@example.com", admin=True)
    _, token = fake.add_api_token(admin, "bench")
    user = fake.add_user("svc@example.com")
    for i in range(TOKENS - 1):
        fake.add_api_token(user, f"t{i}")
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}"}

    def count(proc: object) -> str:
        out = proc.stdout.decode().strip()  # type: ignore[attr-defined]
        if out != str(TOKENS):
            raise RuntimeError(f"listed {out}, expected {TOKENS}")
        return f"{TOKENS} tokens"

    args = [url, token, str(PAGE)]
    runners = [
        Runner("httpx loop", [sys.executable, "-c", BARE, *args], env, check=count),
        Runner("keyreaper", [sys.executable, "-c", KEYREAPER, *args], env, check=count),
    ]
    try:
        timings = alternate(runners, rounds=3)
    finally:
        fake.stop()
    report(
        f"Okta API-token inventory, {TOKENS} tokens, {PAGE} per page",
        timings,
        reference="httpx loop",
        command="python bench/run.py okta_inventory",
        notes="Server: the local Okta org (http.server, one process); both clients follow "
        "Link rel=next. Times include interpreter start and imports.",
    )
