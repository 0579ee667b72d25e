"""Finds every secret in a HAR file, streamed entry by entry (a 2 GB HAR never sits in memory).

Each find is an Occurrence: the Hit (plaintext in memory only), the entry index, where in the
entry, and the entry's URL with its secrets removed.
"""

from __future__ import annotations

import binascii
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from keyreaper.exposure import detect, names, textscan
from keyreaper.exposure.detect import Hit
from keyreaper.exposure.jsonstream import HarStream

MAX_BODY = 64 * 2**20  # bodies larger than this are reported, not scanned
_PAIRED = {"service_token_secret": "service_token_id", "client_secret": "client_id"}


@dataclass(frozen=True, slots=True)
class Occurrence:
    hit: Hit
    entry: int
    location: str
    request_url: str  # raw: may hold secrets; use .url for anything kept
    time: datetime | None

    @property
    def url(self) -> str:
        """The entry's URL with its secrets removed, fit for evidence."""
        return detect.safe_url(self.request_url) if self.request_url else ""


@dataclass
class HarStats:
    entries: int = 0
    earliest: datetime | None = None
    earliest_entry: int = -1
    warnings: list[str] = field(default_factory=list)

    def warn_for(self, path: Path, index: int) -> Callable[[str], None]:
        return lambda message: self.warnings.append(f"{path}: entries[{index}]: {message}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _name_value(item: Any) -> tuple[str, str] | None:
    if isinstance(item, dict):
        name, value = item.get("name"), item.get("value")
        if isinstance(name, str) and isinstance(value, str):
            return name, value
    return None


def _pair_up(hits: list[Hit]) -> list[Hit]:
    """Attach a client id found beside its secret (CF-Access-Client-Id/Secret, OAuth client);
    the id then travels with the secret instead of standing alone."""
    idents = {h.kind: h.identifier for h in hits if not h.value and h.identifier}
    if not idents:
        return hits
    out, used = [], set()
    for h in hits:
        wanted = _PAIRED.get(h.kind)
        if wanted and not h.identifier and wanted in idents:
            h = dataclasses.replace(h, identifier=idents[wanted])
            used.add(wanted)
        out.append(h)
    return [h for h in out if h.value or h.kind not in used]


def header_hits(headers: Any) -> list[Hit]:
    hits: list[Hit] = []
    for item in headers if type(headers) is list else ():
        if type(item) is not dict:
            continue
        name, value = item.get("name"), item.get("value")
        if type(name) is not str or type(value) is not str:
            continue
        lower, role = detect.header_name_role(name)
        if role is None:  # most headers: only a JWT could hide here
            if "eyJ" in value:
                hits.extend(detect.jwt_hits(value))
        elif role == "authorization":
            hits.extend(detect.authorization(value, name))
        elif role == "cookie":
            for cname, cvalue, s, e in detect.cookie_pairs(value):
                hits.append(Hit("cookie", cvalue, cname, detect.jwt_id(cvalue), s, e))
        elif role == "set_cookie":
            pair = detect.set_cookie_pair(value)
            if pair:
                hits.append(
                    Hit("cookie", pair[1], pair[0], detect.jwt_id(pair[1]), pair[2], pair[3])
                )
        elif role == "identifier":
            hits.append(Hit(detect.IDENT_HEADERS[lower], "", name, value.strip()))
        elif role == "secret" and value.strip():
            v = value.strip()
            hits.append(Hit(detect.header_kind(lower), v, name, detect.jwt_id(v)))
        elif role == "url":
            hits.extend(detect.url_hits(value))
    return _pair_up(hits)


def param_hits(params: Any) -> list[Hit]:
    hits: list[Hit] = []
    for item in params if isinstance(params, list) else ():
        nv = _name_value(item)
        if nv is None:
            continue
        name, value = nv
        if (kind := names.param_kind(name)) and value:
            hits.append(Hit(kind, value, name, detect.jwt_id(value)))
        elif (ikind := names.ident_kind(name)) and value:
            hits.append(Hit(ikind, "", name, value))
        elif "eyJ" in value:
            hits.extend(detect.jwt_hits(value))
    return _pair_up(hits)


def cookie_list_hits(cookies: Any) -> list[Hit]:
    hits = []
    for item in cookies if isinstance(cookies, list) else ():
        nv = _name_value(item)
        value = detect.cookie_value(nv[1]) if nv else ""
        if nv and value:
            hits.append(Hit("cookie", value, nv[0], detect.jwt_id(value)))
    return hits


_MEDIA = ("image/", "audio/", "video/", "font/")
_TEXT_MARKERS = (
    "text/",
    "json",
    "xml",
    "javascript",
    "ecmascript",
    "x-www-form-urlencoded",
    "html",
    "graphql",
    "multipart/",
)


def is_textual(mime: str) -> bool:
    mime = mime.lower()
    return not mime or any(m in mime for m in _TEXT_MARKERS)


@dataclass(frozen=True, slots=True)
class Body:
    """A body as text (textual types) or bytes (binary types); `raw` is as stored in the HAR."""

    text: str | None
    data: bytes | None
    base64: bool


def decode_body(holder: Any, max_body: int, scan_all: bool = False) -> Body | str | None:
    """The decoded body; None when empty; a reason string when it cannot be scanned."""
    if not isinstance(holder, dict) or not isinstance(holder.get("text"), str):
        return None
    raw: str = holder["text"]
    if not raw:
        return None
    if len(raw) > max_body:
        return (
            f"body of {len(raw) / 2**20:.0f} MB exceeds the {max_body / 2**20:.0f} MB scan budget"
        )
    mime = _text(holder.get("mimeType"))
    if holder.get("encoding") == "base64":
        if _media(holder):
            return None  # images, audio, video and fonts do not carry tokens as text
        try:
            data = binascii.a2b_base64(raw)
        except (binascii.Error, ValueError):
            return "body marked base64 is not valid base64"
        if is_textual(mime):
            if not scan_all and b"eyJ" not in data and not textscan.may_have_pairs(data):
                return None  # nothing to find: skip decoding
            return Body(data.decode("utf-8", "surrogateescape"), None, True)
        return Body(None, data, True)
    return Body(raw, None, False)


def _media(holder: dict[str, Any]) -> bool:
    mime = holder.get("mimeType")
    return isinstance(mime, str) and mime.lower().startswith(_MEDIA)


def body_hits(holder: Any, form: bool, max_body: int, warn: Callable[[str], None]) -> list[Hit]:
    body = decode_body(holder, max_body)
    if body is None:
        return []
    if isinstance(body, str):
        warn(body)
        return []
    if body.text is not None:
        return _pair_up(list(detect.pair_hits(body.text, form)))
    assert body.data is not None
    hits = []
    if b"eyJ" in body.data:
        for m in detect.JWT_BYTES_RE.finditer(body.data):
            token = m.group(0).decode("ascii")
            hits.append(Hit("jwt", token, "jwt", detect.jwt_id(token), m.start(), m.end()))
    return hits


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, depth + 1)


KNOWN_REQUEST = frozenset(
    {
        "url",
        "headers",
        "cookies",
        "queryString",
        "postData",
        "method",
        "httpVersion",
        "headersSize",
        "bodySize",
    }
)
# Fields the walk over "everything else" skips: handled above, or numbers and protocol words.
_KNOWN_ENTRY = frozenset(
    {
        "request",
        "response",
        "timings",
        "cache",
        "startedDateTime",
        "time",
        "pageref",
        "serverIPAddress",
    }
)
KNOWN_RESPONSE = frozenset(
    {
        "headers",
        "cookies",
        "content",
        "redirectURL",
        "status",
        "statusText",
        "httpVersion",
        "headersSize",
        "bodySize",
    }
)


def entry_hits(
    entry: dict[str, Any], max_body: int, warn: Callable[[str], None]
) -> Iterator[tuple[str, Hit]]:
    """(location, hit) for every secret or identifier in one entry."""
    req = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    resp = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    assert isinstance(req, dict) and isinstance(resp, dict)
    if isinstance(req.get("url"), str):
        for h in detect.url_hits(req["url"]):
            yield "request.url", h
    for h in header_hits(req.get("headers")):
        yield "request.header", h
    for h in cookie_list_hits(req.get("cookies")):
        yield "request.cookie", h
    for h in param_hits(req.get("queryString")):
        yield "request.query", h
    post = req.get("postData")
    if isinstance(post, dict):
        for h in param_hits(post.get("params")):
            yield "request.post", h
        mime = _text(post.get("mimeType"))
        for h in body_hits(post, "urlencoded" in mime, max_body, warn):
            yield "request.body", h
    for h in header_hits(resp.get("headers")):
        yield "response.header", h
    for h in cookie_list_hits(resp.get("cookies")):
        yield "response.cookie", h
    if isinstance(resp.get("redirectURL"), str):
        for h in detect.url_hits(resp["redirectURL"]):
            yield "response.redirect", h
    for h in body_hits(resp.get("content"), False, max_body, warn):
        yield "response.body", h
    # Everything else (initiators, websocket frames, comments): JWTs and name=value pairs.
    rest = [v for k, v in entry.items() if k not in _KNOWN_ENTRY]
    rest += [v for k, v in req.items() if k not in KNOWN_REQUEST]
    rest += [v for k, v in resp.items() if k not in KNOWN_RESPONSE]
    for text in _strings(rest):
        if len(text) > 8 and ("eyJ" in text or "=" in text or '"' in text):
            for h in detect.pair_hits(text):
                yield "entry.other", h


def extract(path: Path, stats: HarStats, max_body: int = MAX_BODY) -> Iterator[Occurrence]:
    """Every occurrence of a secret in the HAR at `path`; fills `stats` as it goes."""
    stream = HarStream(path, max_string=max_body)
    for part in stream.parts():
        if part.kind == "log_field" and part.key == "pages" and isinstance(part.value, list):
            _page_times(part.value, stats)
        if part.kind != "entry":
            continue
        entry = part.value
        index = part.index
        stats.entries = index + 1
        started = entry.get("startedDateTime")
        when = _parse_time(started) if isinstance(started, str) else None
        if when and (stats.earliest is None or when < stats.earliest):
            stats.earliest, stats.earliest_entry = when, index
        req = entry.get("request")
        raw_url = req.get("url") if isinstance(req, dict) else None
        url = raw_url if isinstance(raw_url, str) else ""

        for location, hit in entry_hits(entry, max_body, stats.warn_for(path, index)):
            if hit.value or hit.identifier:
                yield Occurrence(hit, index, location, url, when)


def _page_times(pages: list[Any], stats: HarStats) -> None:
    """A page starts with its first request, so its time can be T0 too."""
    for i, page in enumerate(pages):
        started = page.get("startedDateTime") if isinstance(page, dict) else None
        when = _parse_time(started) if isinstance(started, str) else None
        if when and (stats.earliest is None or when < stats.earliest):
            stats.earliest, stats.earliest_entry = when, -1 - i


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else None
