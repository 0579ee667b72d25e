"""Indicators as people paste them: defanged text, advisory tables and CSV files.

Every value is refanged (`193.142.58[.]126` -> `193.142.58.126`, `hxxps://` -> `https://`),
classified into one of the Indicator types and normalized (lower case where case means
nothing), so that matching compares like with like.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from keyreaper.domain.model import Indicator

_REFANG = [
    (re.compile(r"\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\}", re.I), "."),
    (re.compile(r"\[\s*(?:@|at)\s*\]|\(\s*(?:@|at)\s*\)", re.I), "@"),
    (re.compile(r"\[\s*:\s*\]"), ":"),
    (re.compile(r"\[\s*/\s*\]"), "/"),
    (re.compile(r"\[://\]"), "://"),
    (re.compile(r"^h(?:xx|\[xx\]|XX)p", re.I), "http"),
    (re.compile(r"^fxp", re.I), "ftp"),
]

_HOST = r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,23}"
_DOMAIN_RE = re.compile(rf"^{_HOST}$", re.I)
_EMAIL_RE = re.compile(rf"^[a-z0-9._%+'-]+@{_HOST}$", re.I)
_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]{1,15}://\S+$", re.I)
_ASN_RE = re.compile(r"^as\s?(\d{1,10})$", re.I)
_HEX_RE = re.compile(r"^[0-9a-f]+$", re.I)
_CRED_RE = re.compile(r"^(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,20}$|^(?:ghp|gho|ghs|ghu)_\w{10,}$")
_FILE_RE = re.compile(
    r"^[\w.-]+\.(?:exe|dll|jar|sh|ps1|py|bin|elf|zip|tar|gz|so|js|vbs|bat)$", re.I
)
_HASHES = {32: "md5", 40: "sha1", 64: "sha256"}
# What the "type" column of advisories says, mapped to our types ("file" is decided per value).
_TYPE_WORDS = {
    "ipv4": "ipv4", "ip": "ipv4", "ipv4-addr": "ipv4", "ip-dst": "ipv4", "ip-src": "ipv4",
    "ipv6": "ipv6", "ipv6-addr": "ipv6", "cidr": "cidr", "subnet": "cidr", "netblock": "cidr",
    "domain": "domain", "hostname": "domain", "domain-name": "domain", "fqdn": "domain",
    "url": "url", "uri": "url", "user agent": "user_agent", "user-agent": "user_agent",
    "useragent": "user_agent", "user_agent": "user_agent", "file": "file", "filename": "file_name",
    "file name": "file_name", "file_name": "file_name", "sha256": "sha256", "sha1": "sha1",
    "md5": "md5", "hash": "file", "email": "email", "email-addr": "email", "asn": "asn",
    "as": "asn", "token": "credential_id", "key": "credential_id", "access key": "credential_id",
    "credential_id": "credential_id", "credential": "credential_id",
}  # fmt: skip
_HEADER_WORDS = {"indicator", "ioc", "value", "indicators", "observable"}
_SKIP_WORDS = {"sha256", "sha1", "md5", "hash", "and", "file", "name", "filename"}


def refang(value: str) -> str:
    """Undo the usual defanging of advisories; harmless on values that are not defanged."""
    out = value.strip().strip("`'\"<>")
    for pattern, repl in _REFANG:
        out = pattern.sub(repl, out)
    return out


def defang(ind: Indicator) -> str:
    """The defanged form used when sharing (Cloudflare's style)."""
    v = ind.value
    if ind.type in ("ipv4", "cidr") and "." in v:
        head, _, tail = v.rpartition(".")
        return f"{head}[.]{tail}"
    if ind.type in ("domain", "email"):
        head, _, tail = v.rpartition(".")
        return f"{head}[.]{tail}"
    if ind.type == "url":
        scheme, sep, rest = v.partition("://")
        host, slash, path = rest.partition("/")
        scheme = re.sub(r"^http", "hxxp", scheme, flags=re.I)
        return f"{scheme}{sep}{host.replace('.', '[.]')}{slash}{path}"
    return v


def classify(value: str, hint: str = "") -> tuple[str, str] | None:
    """(type, normalized value) for one refanged token, or None if it is no indicator.
    `hint` is the advisory's own type word, which wins where the value allows it."""
    v = refang(value)
    if not v:
        return None
    want = _TYPE_WORDS.get(hint.strip().lower(), "")
    if want == "user_agent":
        return "user_agent", v
    if want == "credential_id":
        return "credential_id", v
    if want == "file_name":
        return "file_name", v
    if m := _ASN_RE.match(v):
        return "asn", m.group(1)
    if want == "asn" and v.isdigit():
        return "asn", v
    try:
        if "/" in v and not _URL_RE.match(v):
            net = ipaddress.ip_network(v, strict=False)
            if net.num_addresses == 1:
                return ("ipv4" if net.version == 4 else "ipv6"), str(net.network_address)
            return "cidr", str(net)
        addr = ipaddress.ip_address(v)
        return ("ipv4" if addr.version == 4 else "ipv6"), str(addr)
    except ValueError:
        pass
    if _URL_RE.match(v):
        return "url", v
    if _EMAIL_RE.match(v):
        return "email", v.lower()
    if _HEX_RE.match(v) and len(v) in _HASHES:
        return _HASHES[len(v)], v.lower()
    if _CRED_RE.match(v):
        return "credential_id", v
    if _FILE_RE.match(v) and want in ("", "file"):
        return "file_name", v
    if _DOMAIN_RE.match(v) and want != "file":
        return "domain", v.lower().rstrip(".")
    if want == "file" and re.match(r"^[\w.-]{2,}$", v) and v.lower() not in _SKIP_WORDS:
        return "file_name", v
    return None


def _date(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _tokens(cell: str) -> list[str]:
    """Split a cell such as 'jvm-agent, sha256 bdd1a0...' into candidate values."""
    return [t for t in re.split(r"[\s,;]+", cell.strip()) if t and t.lower() not in _SKIP_WORDS]


def _make(
    typ: str, value: str, source: str, description: str, vfrom: datetime | None = None,
    vuntil: datetime | None = None,
) -> Indicator:  # fmt: skip
    return Indicator(typ, value, source, description.strip(), vfrom, vuntil)


def _from_row(cells: list[str], source: str) -> Iterator[Indicator]:
    """One table row: first cell holds the values; a type-word cell is the hint; the rest
    is the description."""
    first, rest = cells[0], cells[1:]
    hint = next((c for c in rest if c.strip().lower() in _TYPE_WORDS), "")
    note = " ".join(c.strip() for c in rest if c is not hint and c.strip())
    if hint.strip().lower() in ("user agent", "user-agent", "useragent", "user_agent"):
        found = classify(first, hint)
        if found:
            yield _make(*found, source, note)
        return
    for token in _tokens(first):
        found = classify(token, hint)
        if found:
            yield _make(*found, source, note)


def parse_text(text: str, source: str) -> Iterator[Indicator]:
    """Plain pasted text: markdown or tab-separated tables, or free lines of indicators."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("|") or "\t" in stripped:
            cells = [c.strip() for c in stripped.strip("|").split("|" if "|" in stripped else "\t")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            if cells and cells[0].lower() in _HEADER_WORDS:
                continue
            yield from _from_row(cells, source)
            continue
        words = stripped.split()
        found_any = False
        for i, word in enumerate(words):
            hit = classify(word.rstrip(",;"))
            if hit:
                found_any = True
                note = " ".join(w for j, w in enumerate(words) if j != i)
                yield _make(*hit, source, note.strip(" -–:()"))
        if not found_any and len(words) > 1:
            continue


_CSV_COLUMNS = {
    "value": ("value", "indicator", "ioc", "observable", "ip", "domain", "url"),
    "type": ("type", "kind", "indicator_type"),
    "description": ("description", "note", "comment", "notes", "context"),
    "source": ("source", "provider", "feed"),
    "valid_from": ("valid_from", "first_seen", "from", "start"),
    "valid_until": ("valid_until", "last_seen", "expires", "until", "end"),
}


def parse_csv(text: str, source: str) -> Iterator[tuple[int, Indicator | str]]:
    """CSV with a header naming its columns; yields (line, indicator or error message)."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    cols = {
        key: next((header.index(n) for n in names if n in header), None)
        for key, names in _CSV_COLUMNS.items()
    }
    if cols["value"] is None:
        # No header we know: every cell is a candidate value.
        for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            for text_cell in row:
                for token in _tokens(text_cell):
                    found = classify(token)
                    if found:
                        yield n, _make(*found, source, "")
        return

    def cell(row: list[str], key: str) -> str:
        i = cols[key]
        return row[i].strip() if i is not None and i < len(row) else ""

    for n, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        value, hint = cell(row, "value"), cell(row, "type")
        try:
            vfrom, vuntil = _date(cell(row, "valid_from")), _date(cell(row, "valid_until"))
        except ValueError as exc:
            yield n, f"bad date: {exc}"
            continue
        found = classify(value, hint)
        if found is None:
            yield n, f"not an indicator: {value[:80]!r}"
            continue
        yield (
            n,
            _make(*found, cell(row, "source") or source, cell(row, "description"), vfrom, vuntil),
        )
