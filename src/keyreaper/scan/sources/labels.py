"""Labels for export formats: which Confluence page, Jira issue or HAR entry a finding is in,
and the date of that page or issue (the exposure's T0). Labels never carry query strings."""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections.abc import Callable
from datetime import datetime

from keyreaper.scan.items import Labeler

_MAX = 120


def _clip(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


def _last_before(positions: list[int], values: list[str], offset: int) -> str:
    i = bisect.bisect_right(positions, offset) - 1
    return values[i] if i >= 0 else ""


def _scanner(pattern: bytes, data: bytes, prefix: str) -> Labeler:
    found = [(m.start(), m.group(1).decode("utf-8", "replace")) for m in re.finditer(pattern, data)]
    pos = [p for p, _ in found]
    vals = [_clip(prefix + v) for _, v in found]
    return lambda offset: _last_before(pos, vals, offset)


# --- HAR ----------------------------------------------------------------------------------
def har(data: bytes) -> Labeler:
    starts = [m.start() for m in re.finditer(rb'"request"\s*:\s*\{', data)]
    urls = [
        (m.start(), m.group(1).decode("utf-8", "replace"))
        for m in re.finditer(rb'"url"\s*:\s*"([^"?#]{0,300})', data)
    ]
    url_pos = [p for p, _ in urls]

    def label(offset: int) -> str:
        n = bisect.bisect_right(starts, offset)
        if n == 0:
            return ""
        url = _last_before(url_pos, [u for _, u in urls], max(offset, starts[n - 1] + 1) + 400)
        url = re.sub(r"//[^/@]*@", "//", url)  # never show userinfo
        return _clip(f"entry {n} {url}")

    return label


# --- Jira ---------------------------------------------------------------------------------
def jira_xml(data: bytes) -> Labeler:
    items = [m.start() for m in re.finditer(rb"<item>", data)]
    keys: list[str] = []
    for i, start in enumerate(items):
        end = items[i + 1] if i + 1 < len(items) else len(data)
        m = re.compile(rb"<key[^>]*>([A-Z][A-Z0-9_]+-\d+)</key>").search(data, start, end)
        keys.append(f"issue {m.group(1).decode()}" if m else "")
    return lambda offset: _last_before(items, keys, offset)


def jira_json(data: bytes) -> Labeler:
    return _scanner(rb'"key"\s*:\s*"([A-Z][A-Z0-9_]+-\d+)"', data, "issue ")


def jira_csv(data: bytes) -> Labeler:
    text = data.decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return lambda offset: ""
    col = header.index("Issue key") if "Issue key" in header else -1
    line_starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]
    rows: list[int] = []
    keys: list[str] = []
    line = reader.line_num
    try:
        for row in reader:
            rows.append(line_starts[min(line, len(line_starts) - 1)])
            keys.append(f"issue {row[col]}" if 0 <= col < len(row) else "")
            line = reader.line_num
    except csv.Error:
        pass
    return lambda offset: _last_before(rows, keys, offset)


# --- Confluence ---------------------------------------------------------------------------
def confluence_html(data: bytes) -> Labeler:
    m = re.search(rb"<title>(.*?)</title>", data[:65536], re.DOTALL | re.IGNORECASE)
    title = m.group(1).decode("utf-8", "replace") if m else ""
    label = _clip(f"page {title}") if title else ""
    return lambda offset: label


_OBJ = re.compile(rb'<object class="([A-Za-z]+)"[^>]*>\s*<id name="id"[^>]*>(\d+)</id>')
_TITLE = re.compile(rb'<property name="title"><!\[CDATA\[(.*?)\]\]></property>', re.DOTALL)
_CONTENT = re.compile(
    rb'<property name="(?:content|containerContent)"[^>]*>\s*<id name="id">(\d+)</id>'
)
_DATE = re.compile(rb'<property name="lastModificationDate">([0-9: .-]+)</property>')


def confluence_entities(data: bytes) -> tuple[Labeler, dict[str, str], dict[str, str]]:
    """Labels inside entities.xml, plus page-id -> title and attachment-id -> title maps that
    name the attachment files elsewhere in the same export."""
    objs = [(m.start(), m.group(1).decode(), m.group(2).decode()) for m in _OBJ.finditer(data)]
    starts = [s for s, _, _ in objs]
    titles: dict[str, str] = {}
    parent: dict[int, str] = {}
    dates: dict[str, str] = {}
    for i, (start, _cls, oid) in enumerate(objs):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        t = _TITLE.search(data, start, end)
        if t:
            titles[oid] = t.group(1).decode("utf-8", "replace")
        c = _CONTENT.search(data, start, end)
        if c:
            parent[i] = c.group(1).decode()
        d = _DATE.search(data, start, end)
        if d:
            dates[oid] = d.group(1).decode()

    def label(offset: int) -> str:
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0:
            return ""
        _, cls, oid = objs[i]
        page = parent.get(i, oid)
        name = titles.get(page) or titles.get(oid, "")
        return _clip(f"{cls.lower()} {name}".strip())

    pages = {oid: titles.get(oid, "") for _, cls, oid in objs if cls == "Page"}
    attachments = {oid: titles.get(oid, "") for _, cls, oid in objs if cls == "Attachment"}
    label.dates = dates  # type: ignore[attr-defined]
    return label, pages, attachments


def confluence_date(data: bytes) -> str:
    m = re.search(
        rb"last (?:modified|updated)(?: by .{0,80}?)? on ([A-Z][a-z]{2} \d{1,2}, \d{4})",
        data[:200000],
    )
    if not m:
        return ""
    try:
        return datetime.strptime(m.group(1).decode(), "%b %d, %Y").date().isoformat()
    except ValueError:
        return ""


def detect(name: str, head: bytes) -> Callable[[bytes], Labeler] | None:
    """Which labeler fits this item, judged by its name and first bytes."""
    low = name.lower()
    if low.endswith("entities.xml"):
        return lambda data: confluence_entities(data)[0]
    if low.endswith(".har") or (b'"log"' in head and b'"entries"' in head):
        return har
    if b"<rss" in head and b"jira" in head.lower():
        return jira_xml
    if low.endswith(".json") and b'"issues"' in head and b'"key"' in head:
        return jira_json
    if low.endswith(".csv") and b"Issue key" in head.split(b"\n", 1)[0]:
        return jira_csv
    if low.endswith((".html", ".htm")) and (b"confluence" in head.lower() or b"<title>" in head):
        return confluence_html
    return None
