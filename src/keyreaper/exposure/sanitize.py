"""The HAR sanitizer: removes every secret the extractor finds, every cookie and auth header,
Cloudflare's default word list, JavaScript bodies, and any later echo of a removed value.

Two streaming passes: the first runs the extractor to learn every secret value (memory only),
the second rewrites each entry and replaces those values wherever they reappear (also
URL-encoded). JWTs keep header and payload; the signature becomes `redacted`. The output
keeps every entry, every timing and the structure; it is written to a temporary file and
renamed, so an error leaves nothing behind.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, quote_plus

from keyreaper.errors import InputError, KeyreaperError, Location
from keyreaper.exposure import detect, har, names, textscan
from keyreaper.exposure.jsonstream import HarStream
from keyreaper.exposure.names import SANITIZE_NORM, norm
from keyreaper.fingerprint import hint

REDACTED = "[redacted]"
_JS = ("javascript", "ecmascript")


# Base64 forms only for values this long: shorter ones (analytics cookies, mostly) would
# multiply the literals to look for (hyperscan needs ~3 KB and 0.2 ms per literal to compile)
# while their base64 chunks are short enough to collide with unrelated text.
_B64_MIN = 20


def _forms(value: str) -> set[str]:
    """How a secret may reappear: as is, URL-encoded, or inside base64 at any alignment."""
    forms = {value, quote(value, safe=""), quote_plus(value)}
    if len(value) < _B64_MIN:
        return {f for f in forms if len(f) >= 8}
    raw = value.encode("utf-8", "surrogatepass")
    for shift in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            blob = enc(b"\0" * shift + raw).decode("ascii")
            inner = blob[4 if shift else 0 : -4]  # the part that does not depend on neighbours
            if len(inner) >= 12:
                forms.add(inner)
    return {f for f in forms if len(f) >= 8}


class Echoes:
    """Finds any of many literal strings in a text: hyperscan when installed, else str.find."""

    def __init__(self, values: dict[str, str], use_hyperscan: bool = True) -> None:
        self.values = values
        self.literals = sorted(values, key=len, reverse=True)
        self._db = None
        try:
            import hyperscan
        except ImportError:
            return
        if not use_hyperscan:
            return
        if self.literals:
            self._db = hyperscan.Database()
            exprs = [re.escape(v).encode("utf-8", "surrogatepass") for v in self.literals]
            self._db.compile(
                expressions=exprs,
                ids=list(range(len(exprs))),
                elements=len(exprs),
                # literals have a fixed length, so start = end - length: no costly
                # start-of-match tracking
                flags=[0] * len(exprs),
            )

    def _spans(self, data: str) -> list[tuple[int, int, str]]:
        spans: list[tuple[int, int, str]] = []
        if self._db is not None and data.isascii():
            self._db.scan(
                data.encode("ascii"),
                match_event_handler=lambda i, _start, end, _f, _c: spans.append(
                    (end - len(self.literals[i]), end, self.literals[i])
                ),
            )
            return spans
        for lit in self.literals:
            pos = data.find(lit)
            while pos >= 0:
                spans.append((pos, pos + len(lit), lit))
                pos = data.find(lit, pos + 1)
        return spans

    def replace(self, text: str, note: Callable[[str, str], str]) -> str:
        spans = self._spans(text)
        if not spans:
            return text
        spans.sort(key=lambda s: (s[0], -s[1]))
        out, pos = [], 0
        for start, end, lit in spans:
            if start < pos:
                continue
            out.append(text[pos:start])
            out.append(note(self.values[lit], lit))
            pos = end
        out.append(text[pos:])
        return "".join(out)


class Sanitizer:
    def __init__(self, keep: tuple[str, ...] = (), max_body: int = har.MAX_BODY) -> None:
        self.keep = {k.lower() for k in keep} | {norm(k) for k in keep}
        self.max_body = max_body
        self.values: dict[str, str] = {}  # run of a secret -> kind (memory only)
        self.removed: Counter[tuple[str, str, str, str]] = Counter()
        self.entries = 0
        self._echo: Echoes | None = None

    def kept(self, name: str) -> bool:
        return bool(self.keep) and (name.lower() in self.keep or norm(name) in self.keep)

    # -- pass 1 ------------------------------------------------------------------------------

    def learn(self, path: Path) -> None:
        """Every secret value the extractor finds, so its echoes anywhere can be removed."""
        stats = har.HarStats()
        for occ in har.extract(path, stats, self.max_body):
            value = occ.hit.value
            if not value or self.kept(occ.hit.name):
                continue
            if detect.JWT_RE.fullmatch(value):
                sig = value.rsplit(".", 1)[-1]
                if len(sig) >= 8:
                    self.values[sig] = "jwt_signature"
                continue
            for form in _forms(value):
                self.values.setdefault(form, occ.hit.kind)
        self._echo = Echoes(self.values)

    # -- redaction primitives ----------------------------------------------------------------

    def _note(self, kind: str, where: str, name: str, value: str) -> None:
        self.removed[(kind, where, name[:60], hint(value))] += 1

    def redact(self, value: str, kind: str, where: str, name: str) -> str:
        if not value or value == REDACTED or value.endswith(".redacted"):
            return value
        if detect.JWT_RE.fullmatch(value):
            self._note("jwt_signature", where, name, value)
            return detect.jwt_strip(value)
        self._note(kind, where, name, value)
        return REDACTED

    def text(self, text: str, where: str, form: bool = False) -> str:
        """name=value pairs (any syntax), JWTs, and known secret values, replaced in place."""
        if len(text) < 8:
            return text
        spans: list[tuple[int, int, str, str]] = []
        # every pair syntax needs one of these characters; most header values have none
        pairs = "=" in text or '"' in text or "<" in text
        for p in textscan.text_pairs(text, form) if pairs else ():
            if not self.kept(p.name):
                spans.append((p.start, p.end, names.param_kind(p.name) or "named_value", p.name))
        for h in detect.jwt_hits(text):
            spans.append((h.start, h.end, "jwt", "jwt"))
        if spans:
            spans.sort()
            out, pos = [], 0
            for start, end, kind, name in spans:
                if start < pos:
                    continue  # inside a span already replaced
                out.append(text[pos:start])
                out.append(self.redact(text[start:end], kind, where, name))
                pos = end
            out.append(text[pos:])
            text = "".join(out)
        return self.echoes(text, where)

    def echoes(self, text: str, where: str) -> str:
        if self._echo is None or len(text) < 8:
            return text
        return self._echo.replace(text, lambda kind, value: self._echo_note(kind, where, value))

    def _echo_note(self, kind: str, where: str, value: str) -> str:
        self._note(kind, where, "(echo)", value)
        return "redacted" if kind == "jwt_signature" else REDACTED

    def url(self, url: str, where: str) -> str:
        if "@" in url.split("?", 1)[0]:
            url = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/:@]*:)[^/@]*@", rf"\g<1>{REDACTED}@", url)
        return self.text(url, where, form=True)

    # -- structure ---------------------------------------------------------------------------

    def headers(self, headers: Any, side: str) -> None:
        for item in headers if isinstance(headers, list) else ():
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                continue
            name, value = str(item.get("name", "")), item["value"]
            where = f"{side}.header"
            lower = name.lower()
            role = detect.header_role(lower)
            if self.kept(name):
                continue
            if role == "authorization":
                scheme, _, cred = value.strip().partition(" ")
                item["value"] = (
                    f"{scheme} {self.redact(cred.strip(), 'authorization', where, name)}"
                    if cred
                    else self.redact(value, "authorization", where, name)
                )
            elif role == "cookie":
                item["value"] = self._cookies(value, where)
            elif role == "set_cookie":
                pair = detect.set_cookie_pair(value)
                if pair and not self.kept(pair[0]):
                    item["value"] = (
                        value[: pair[2]]
                        + self.redact(pair[1], "cookie", f"{side}.set-cookie", pair[0])
                        + value[pair[3] :]
                    )
            elif role in ("identifier", "secret") or norm(name) in SANITIZE_NORM:
                kind = detect.IDENT_HEADERS.get(lower) or detect.header_kind(lower)
                item["value"] = self.redact(value.strip(), kind, where, name)
            elif role == "url":
                item["value"] = self.url(value, where)
            else:
                item["value"] = self.text(value, where)

    def _cookies(self, header: str, where: str) -> str:
        out, pos = [], 0
        for name, value, start, end in detect.cookie_pairs(header):
            out.append(header[pos:start])
            out.append(
                value
                if self.kept(name)
                else self.redact(value, "cookie", where.replace("header", "cookie"), name)
            )
            pos = end
        out.append(header[pos:])
        return "".join(out)

    def params(self, params: Any, where: str) -> None:
        for item in params if isinstance(params, list) else ():
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                continue
            name = str(item.get("name", ""))
            if self.kept(name):
                continue
            if norm(name) in SANITIZE_NORM:
                item["value"] = self.redact(
                    item["value"], names.param_kind(name) or "named_value", where, name
                )
            else:
                item["value"] = self.text(item["value"], where)

    def cookie_list(self, cookies: Any, where: str) -> None:
        for item in cookies if isinstance(cookies, list) else ():
            if (
                isinstance(item, dict)
                and isinstance(item.get("value"), str)
                and not self.kept(str(item.get("name", "")))
            ):
                item["value"] = self.redact(
                    item["value"], "cookie", where, str(item.get("name", ""))
                )

    def body(self, holder: Any, where: str, form: bool = False) -> None:
        if (
            not isinstance(holder, dict)
            or not isinstance(holder.get("text"), str)
            or not holder["text"]
        ):
            return
        mime = str(holder.get("mimeType") or "").lower()
        if any(js in mime for js in _JS):
            self._note("javascript_body", where, mime[:40], holder["text"])
            holder["text"] = ""
            return
        decoded = har.decode_body(holder, self.max_body, scan_all=True)
        if isinstance(decoded, str) or decoded is None:
            if isinstance(decoded, str):  # cannot be checked, so it cannot be kept
                self._note("unscannable_body", where, decoded[:60], holder["text"])
                holder["text"] = ""
            return
        if decoded.text is not None:
            clean = self.text(decoded.text, where, form)
            if decoded.base64:
                holder["text"] = base64.b64encode(clean.encode("utf-8", "surrogateescape")).decode(
                    "ascii"
                )
            else:
                holder["text"] = clean
        elif decoded.data is not None and b"eyJ" in decoded.data:
            data = detect.JWT_BYTES_RE.sub(
                lambda m: self.redact(m.group(0).decode("ascii"), "jwt", where, "jwt").encode(
                    "ascii"
                ),
                decoded.data,
            )
            holder["text"] = base64.b64encode(data).decode("ascii")

    def generic(self, value: Any, where: str) -> Any:
        """Every string anywhere else: pairs, JWTs, echoes."""
        return _map_strings(value, lambda text: self.text(text, where))

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        req = entry.get("request")
        resp = entry.get("response")
        if isinstance(req, dict):
            if isinstance(req.get("url"), str):
                req["url"] = self.url(req["url"], "request.url")
            self.headers(req.get("headers"), "request")
            self.cookie_list(req.get("cookies"), "request.cookie")
            self.params(req.get("queryString"), "request.query")
            post = req.get("postData")
            if isinstance(post, dict):
                self.params(post.get("params"), "request.post")
                self.body(post, "request.body", "urlencoded" in str(post.get("mimeType") or ""))
            for k in [k for k in req if k not in har.KNOWN_REQUEST]:
                req[k] = self.generic(req[k], "request.other")
        if isinstance(resp, dict):
            self.headers(resp.get("headers"), "response")
            self.cookie_list(resp.get("cookies"), "response.cookie")
            if isinstance(resp.get("redirectURL"), str):
                resp["redirectURL"] = self.url(resp["redirectURL"], "response.redirect")
            self.body(resp.get("content"), "response.body")
            for k in [k for k in resp if k not in har.KNOWN_RESPONSE]:
                resp[k] = self.generic(resp[k], "response.other")
        for k in [k for k in entry if k not in ("request", "response")]:
            entry[k] = self.generic(entry[k], "entry.other")
        self.entries += 1
        # Last, every string once more for echoes of known secrets: a field of an unexpected
        # type (cookies as text, a request that is a string) was skipped by the passes above.
        cleaned: dict[str, Any] = _map_strings(entry, lambda text: self.echoes(text, "entry"))
        return cleaned

    # -- the file ----------------------------------------------------------------------------

    def write(self, src: Path, out: IO[str]) -> None:
        dump: Callable[[Any], str] = lambda v: json.dumps(v, allow_nan=False)  # noqa: E731
        sep = {"root": "", "log": "", "entries": ""}
        out.write("{")
        for part in HarStream(src, max_string=self.max_body).parts():
            if part.kind == "root_field":
                out.write(
                    f"{sep['root']}{dump(part.key)}: {dump(self.generic(part.value, 'root'))}"
                )
                sep["root"] = ", "
            elif part.kind == "mark" and part.key == "log_start":
                out.write(f'{sep["root"]}"log": {{')
                sep["root"] = ", "
            elif part.kind == "mark" and part.key == "entries_start":
                out.write(f'{sep["log"]}"entries": [')
                sep["log"] = ", "
            elif part.kind == "mark":
                out.write("]" if part.key == "entries_end" else "}")
            elif part.kind == "log_field":
                out.write(
                    f"{sep['log']}{dump(part.key)}: {dump(self.generic(part.value, 'log.' + part.key))}"
                )
                sep["log"] = ", "
            else:
                out.write(f"{sep['entries']}\n{dump(self.entry(part.value))}")
                sep["entries"] = ", "
        out.write("}\n")


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """The JSON value with `change` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    return value


def sanitize_file(
    src: Path, dst: Path, keep: tuple[str, ...] = (), max_body: int = har.MAX_BODY
) -> Sanitizer:
    """Sanitize src into dst atomically; on any error dst is untouched and no temp file stays."""
    if not src.is_file():
        raise InputError(Location(str(src)), "no such file")
    if dst.exists() and dst.resolve() == src.resolve():
        raise KeyreaperError(f"{dst}: refusing to overwrite the input; name another output file")
    if dst.is_dir():
        raise KeyreaperError(f"{dst}: is a folder; name the output file")
    san = Sanitizer(keep, max_body)
    san.learn(src)
    tmp = dst.parent / f".{dst.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20) as fh:
            san.write(src, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return san
