"""Web server access logs in the combined and common formats (Apache, nginx).

Credential links: the HTTP basic-auth user (actor). The query string is kept only in `raw`
(it may hold secrets); target_name is the path alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

import pyarrow as pa

from keyreaper.events.reader import DEFAULT_MAX_LINE
from keyreaper.events.records import Reject, RejectFn, Row
from keyreaper.events.textsource import parse_text

_LINE = re.compile(
    r'^(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<req>[^"]*)" '
    r"(?P<status>\d{3}) (?P<size>\S+)"
    r'(?: "(?P<ref>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)")?'
)


@dataclass
class WebAccessSource:
    name: str = "web_access"
    description: str = "Web access log (combined / common format)"
    usage_event_types: tuple[str, ...] = ("*",)

    def detect(self, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return any(_LINE.match(line) for line in text.splitlines()[:50])

    def parse(
        self,
        stream: IO[bytes],
        origin: str,
        on_reject: RejectFn | None = None,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> Iterator[pa.RecordBatch]:
        def parse_line(text: str) -> Row | None:
            m = _LINE.match(text)
            if not m:
                raise Reject("not a combined/common access log line")
            try:
                when = datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z")
            except ValueError:
                raise Reject(f"unreadable timestamp {m['ts'][:40]!r}") from None
            parts = m["req"].split(" ")
            method = parts[0] if parts and parts[0] else "-"
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else None
            status = int(m["status"])
            user = m["user"] if m["user"] != "-" else None
            return {
                "time": round(when.timestamp() * 1_000_000),
                "event_type": method,
                "category": "http_request",
                "outcome": "failure"
                if status in (401, 403, 407)
                else "success"
                if status < 400
                else "unknown",
                "actor_name": user,
                "credential_kind": "password" if user else None,
                "src_ip": m["ip"],
                "user_agent": m["ua"] if m["ua"] not in (None, "-") else None,
                "target_name": path,
                "target_type": str(status),
            }

        yield from parse_text(stream, origin, self.name, parse_line, on_reject, max_line)


SOURCE = WebAccessSource()
