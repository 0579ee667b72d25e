"""OpenSSH sshd lines from auth.log / secure (classic syslog or RFC 3339 timestamps).

Classic syslog has no year. It is inferred per file: the last line is taken to be no later
than the file's modification time, and every Dec→Jan turn seen earlier in the file moves
the year back by one (a first pass counts the turns). Times without a zone are UTC.

Credential links: the key fingerprint (`SHA256:...`) of publickey logins; the user name for
passwords (actor).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pyarrow as pa

from keyreaper.events.reader import DEFAULT_MAX_LINE, TruncatedInput, lines, open_log
from keyreaper.events.records import Reject, RejectFn, Row, micros
from keyreaper.events.textsource import parse_text

MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_SYSLOG = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<prog>[\w./-]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$"
)
_RFC3339 = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) "
    r"(?P<prog>[\w./-]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$"
)
_AUTH = re.compile(
    r"^(?P<verb>Accepted|Failed) (?P<method>[\w/-]+) for (?P<invalid>invalid user )?"
    r"(?P<user>\S*) from (?P<ip>\S+) port (?P<port>\d+)(?: ssh2)?"
    r"(?:: (?P<keytype>\S+) (?P<fp>(?:SHA256|MD5):\S+))?"
)
_INVALID = re.compile(r"^Invalid user (?P<user>\S*) from (?P<ip>\S+)")
_TURN = 6  # a month going back by this much or more is a new year, not clock jitter


def _is_sshd(prog: str) -> bool:
    return prog.startswith("sshd")


def _message_row(msg: str) -> Row | None:
    m = _AUTH.match(msg)
    if m:
        verb, method = m["verb"].lower(), m["method"].lower()
        row: Row = {
            "event_type": f"{verb}_{method.replace('/', '_')}",
            "category": "authentication",
            "outcome": "success" if verb == "accepted" else "failure",
            "actor_name": m["user"],
            "actor_type": "invalid_user" if m["invalid"] else "user",
            "src_ip": m["ip"],
            "target_type": "ssh",
        }
        if m["fp"]:
            row["credential_id"], row["credential_kind"] = m["fp"], "ssh_key"
        elif method == "password":
            row["credential_kind"] = "password"
        return row
    m = _INVALID.match(msg)
    if m:
        return {
            "event_type": "invalid_user",
            "category": "authentication",
            "outcome": "failure",
            "actor_name": m["user"],
            "actor_type": "invalid_user",
            "src_ip": m["ip"],
            "target_type": "ssh",
        }
    return None


def start_year(stream: IO[bytes], reference: datetime) -> int:
    """The year of the first classic-syslog line, given the file's modification time."""
    turns = 0
    last: tuple[int, int] | None = None
    for line in lines(stream):
        if line.data is None or len(line.data) < 6:
            continue
        month = MONTHS.get(line.data[:3].decode("ascii", "replace"))
        if month is None:
            continue
        try:
            day = int(line.data[4:6])
        except ValueError:
            continue
        if last is not None and last[0] - month >= _TURN:
            turns += 1
        last = (month, day)
    if last is None:
        return reference.year
    end_year = reference.year if last <= (reference.month, reference.day) else reference.year - 1
    return end_year - turns


@dataclass
class SshdSource:
    name: str = "sshd"
    description: str = "OpenSSH sshd in auth.log / secure (syslog; year inferred)"
    usage_event_types: tuple[str, ...] = (
        "accepted_publickey",
        "accepted_password",
        "accepted_keyboard-interactive_pam",
    )
    first_year: int | None = None

    def detect(self, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return any(
            (m := (_SYSLOG.match(line) or _RFC3339.match(line))) is not None and _is_sshd(m["prog"])
            for line in text.splitlines()[:200]
        )

    def for_file(self, path: Path) -> SshdSource:
        reference = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        opened = open_log(path)
        try:
            year = start_year(opened.stream, reference)
        except TruncatedInput:
            year = reference.year
        finally:
            opened.close()
        return SshdSource(first_year=year)

    def parse(
        self,
        stream: IO[bytes],
        origin: str,
        on_reject: RejectFn | None = None,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> Iterator[pa.RecordBatch]:
        year = self.first_year or datetime.now(UTC).year
        last_month = 0

        def parse_line(text: str) -> Row | None:
            nonlocal year, last_month
            m = _SYSLOG.match(text)
            if m:
                month = MONTHS.get(m["mon"])
                if month is None:
                    raise Reject("not a syslog line")
                if last_month - month >= _TURN:
                    year += 1
                last_month = month
                if not _is_sshd(m["prog"]):
                    return None
                stamp = f"{year:04d}-{month:02d}-{int(m['day']):02d}T{m['hms']}+00:00"
            else:
                m = _RFC3339.match(text)
                if not m:
                    raise Reject("not a syslog line")
                if not _is_sshd(m["prog"]):
                    return None
                stamp = m["ts"]
            row = _message_row(m["msg"])
            if row is None:
                return None
            row["time"] = micros(stamp)
            row["target_name"] = m["host"]
            row["session_id"] = m["pid"]
            return row

        yield from parse_text(stream, origin, self.name, parse_line, on_reject, max_line)


SOURCE = SshdSource()
