"""PostgreSQL server log (stderr format with the default `%m [%p] ` prefix and similar):
connection authorized / authenticated lines and authentication failures.

The client address comes from the `connection received` line of the same backend pid.
Credential links: the database role (user=...). Times without a known zone are UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import pyarrow as pa

from keyreaper.events.reader import DEFAULT_MAX_LINE
from keyreaper.events.records import Reject, RejectFn, Row, micros
from keyreaper.events.textsource import parse_text

_LINE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d)[ T](?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)"
    r"(?: ?(?P<tz>Z|UTC|GMT|[+-]\d\d(?::?\d\d)?|[A-Z]{2,5}))?"
    r"(?P<rest>.*?)\[(?P<pid>\d+)\][^A-Z]*?(?:[^:]*?\s)?"
    r"(?P<level>LOG|FATAL|ERROR|WARNING|DETAIL|HINT|STATEMENT|PANIC|INFO|NOTICE|DEBUG\d?)"
    r":\s+(?P<msg>.*)$"
)
_RECEIVED = re.compile(r"^connection received: host=(?P<host>\S+)")
_AUTHORIZED = re.compile(
    r"^connection authorized: user=(?P<user>\S+)(?: database=(?P<db>\S+))?"
    r"(?: application_name=(?P<app>\S+))?"
)
_AUTHENTICATED = re.compile(
    r'^connection authenticated: identity="(?P<identity>[^"]*)" method=(?P<method>\S+)'
)
_FAILED = re.compile(
    r'^(?P<method>\w+) authentication failed for user "(?P<user>[^"]*)"'
    r'|^role "(?P<role>[^"]*)" does not exist'
    r'|^no pg_hba\.conf entry for host "(?P<host>[^"]*)", user "(?P<hba_user>[^"]*)"'
)


def _tz(tz: str | None) -> str:
    if not tz or tz in ("UTC", "GMT", "Z") or tz[0] not in "+-":
        return "+00:00"
    return tz if ":" in tz or len(tz) == 3 else f"{tz[:3]}:{tz[3:]}"


@dataclass
class PostgresSource:
    name: str = "postgresql"
    description: str = "PostgreSQL server log (connection authorized / auth failures)"
    usage_event_types: tuple[str, ...] = ("connection_authorized",)

    def detect(self, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return any(_LINE.match(line) for line in text.splitlines()[:200])

    def parse(
        self,
        stream: IO[bytes],
        origin: str,
        on_reject: RejectFn | None = None,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> Iterator[pa.RecordBatch]:
        hosts: dict[str, str] = {}

        def parse_line(text: str) -> Row | None:
            m = _LINE.match(text)
            if not m:
                if text[:1].isspace():  # continuation of a multi-line statement
                    return None
                raise Reject("not a PostgreSQL log line")
            msg, pid = m["msg"], m["pid"]
            stamp = micros(f"{m['date']}T{m['time']}{_tz(m['tz'])}")
            base: Row = {"time": stamp, "session_id": pid, "category": "authentication"}
            if r := _RECEIVED.match(msg):
                host = r["host"]
                hosts[pid] = host
                if len(hosts) > 100_000:  # bound memory on endless logs
                    hosts.pop(next(iter(hosts)))
                return None
            if a := _AUTHORIZED.match(msg):
                base.update(
                    event_type="connection_authorized",
                    outcome="success",
                    actor_name=a["user"],
                    credential_id=a["user"],
                    credential_kind="db_role",
                    target_type="database",
                    target_name=a["db"],
                    user_agent=a["app"],
                )
            elif a := _AUTHENTICATED.match(msg):
                base.update(
                    event_type="connection_authenticated",
                    outcome="success",
                    actor_name=a["identity"],
                    credential_kind=a["method"],
                )
            elif f := _FAILED.match(msg):
                user = f["user"] or f["role"] or f["hba_user"]
                base.update(
                    event_type="authentication_failed",
                    outcome="failure",
                    actor_name=user,
                    credential_id=user,
                    credential_kind="db_role",
                )
                if f["host"]:
                    hosts.setdefault(pid, f["host"])
            else:
                return None
            host = hosts.get(pid)
            if host and host != "[local]":
                base["src_ip"] = host
            return base

        yield from parse_text(stream, origin, self.name, parse_line, on_reject, max_line)


SOURCE = PostgresSource()
