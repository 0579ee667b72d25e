"""Seeded generator of realistic HAR files for the HAR benchmark and the exposure tests.

Entries look like Chromium's: ~20 request and response headers, cookies, query strings, some
form and JSON posts, timings, and response bodies, many of them base64-encoded (images,
fonts, compressed JSON) as browsers record them. A few entries carry planted secrets.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from pathlib import Path
from typing import Any

_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def _token(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _jwt(rng: random.Random) -> str:
    def enc(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    head = enc({"alg": "RS256", "kid": _token(rng, 8)})
    body = enc({"sub": "u" + _token(rng, 6), "jti": "AT." + _token(rng, 20), "exp": 1700000000})
    return f"{head}.{body}.{_token(rng, 43)}"


def _headers(rng: random.Random, extra: list[tuple[str, str]]) -> list[dict[str, str]]:
    base = [
        ("Host", "app.example.com"),
        ("User-Agent", _UA),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Accept-Language", "en-US,en;q=0.9"),
        ("Connection", "keep-alive"),
        ("Sec-Fetch-Dest", "empty"),
        ("Sec-Fetch-Mode", "cors"),
        ("Sec-Fetch-Site", "same-origin"),
        ("sec-ch-ua", '"Chromium";v="120", "Not?A_Brand";v="8"'),
        ("sec-ch-ua-platform", '"Linux"'),
        ("Cache-Control", "no-cache"),
        ("Pragma", "no-cache"),
        ("X-Request-Id", _token(rng, 16)),
    ]
    return [{"name": n, "value": v} for n, v in base + extra]


def entry(
    rng: random.Random, i: int, body_bytes: int, secrets: dict[str, str] | None
) -> dict[str, Any]:
    """One entry; `secrets` (kind -> value) are planted where a browser would carry them."""
    req_extra: list[tuple[str, str]] = [
        ("Cookie", f"_ga=GA1.2.{rng.randint(1, 10**9)}; theme=dark")
    ]
    resp_extra: list[tuple[str, str]] = []
    query = [{"name": "page", "value": str(i)}]
    post: dict[str, Any] | None = None
    if secrets:
        if "cookie" in secrets:
            req_extra[0] = ("Cookie", f"sid={secrets['cookie']}; theme=dark")
        if "bearer" in secrets:
            req_extra.append(("Authorization", f"Bearer {secrets['bearer']}"))
        if "api_key" in secrets:
            req_extra.append(("X-API-Key", secrets["api_key"]))
        if "set_cookie" in secrets:
            resp_extra.append(("Set-Cookie", f"session={secrets['set_cookie']}; Path=/; HttpOnly"))
        if "code" in secrets:
            query.append({"name": "code", "value": secrets["code"]})
        if "refresh_token" in secrets:
            text = f"grant_type=refresh_token&refresh_token={secrets['refresh_token']}"
            post = {"mimeType": "application/x-www-form-urlencoded", "text": text}
    qs = "&".join(f"{q['name']}={q['value']}" for q in query)
    kind = rng.random()
    if kind < 0.6:
        raw = rng.randbytes(body_bytes)
        content = {
            "size": len(raw),
            "mimeType": "image/png",
            "encoding": "base64",
            "text": base64.b64encode(raw).decode(),
        }
    else:
        doc = json.dumps(
            {"items": [{"id": _token(rng, 12), "n": j} for j in range(body_bytes // 40)]}
        )
        if secrets and "access_token" in secrets:
            doc = json.dumps({"access_token": secrets["access_token"], "token_type": "Bearer"})
        content = {
            "size": len(doc),
            "mimeType": "application/json",
            "encoding": "base64",
            "text": base64.b64encode(doc.encode()).decode(),
        }
    out: dict[str, Any] = {
        "pageref": "page_1",
        "startedDateTime": f"2023-10-{1 + i % 28:02d}T12:{i % 60:02d}:{i % 59:02d}.123Z",
        "time": 12.5,
        "request": {
            "method": "POST" if post else "GET",
            "url": f"https://app.example.com/api/v1/items?{qs}",
            "httpVersion": "HTTP/1.1",
            "headers": _headers(rng, req_extra),
            "queryString": query,
            "cookies": [{"name": "theme", "value": "dark"}],
            "headersSize": -1,
            "bodySize": len(post["text"]) if post else 0,
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Content-Type", "value": content["mimeType"]},
                {"name": "Date", "value": "Sun, 01 Oct 2023 12:00:00 GMT"},
            ]
            + [{"name": n, "value": v} for n, v in resp_extra],
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": content["size"],
        },
        "cache": {},
        "timings": {
            "blocked": 1.0,
            "dns": -1,
            "connect": -1,
            "send": 0.1,
            "wait": 10.0,
            "receive": 1.4,
            "ssl": -1,
        },
    }
    if post:
        out["request"]["postData"] = post
    return out


def write_har(
    path: Path, target_bytes: int, seed: int = 7, plant_every: int = 500
) -> dict[str, int]:
    """Write a HAR of about target_bytes; returns counts of what was planted."""
    rng = random.Random(seed)
    planted = 0
    written = 0
    with path.open("w") as fh:
        head = '{"log": {"version": "1.2", "creator": {"name": "har_corpus", "version": "1"},'
        head += ' "pages": [{"startedDateTime": "2023-10-01T12:00:00.000Z", "id": "page_1",'
        head += ' "title": "https://app.example.com/", "pageTimings": {}}], "entries": ['
        fh.write(head)
        i = 0
        while written < target_bytes:
            secrets = None
            if i % plant_every == 0:
                secrets = {
                    "cookie": _token(rng, 32),
                    "bearer": _jwt(rng),
                    "api_key": _token(rng, 40),
                    "set_cookie": _token(rng, 32),
                    "code": _token(rng, 24),
                    "refresh_token": _token(rng, 48),
                    "access_token": _jwt(rng),
                }
                planted += 1
            text = json.dumps(entry(rng, i, rng.choice((2000, 8000, 30000, 60000)), secrets))
            fh.write(("," if i else "") + text)
            written += len(text)
            i += 1
        fh.write("]}}")
    return {"entries": i, "planted_entries": planted}


if __name__ == "__main__":
    size = int(float(sys.argv[2])) if len(sys.argv) > 2 else 50_000_000
    print(write_har(Path(sys.argv[1]), size))
