"""Text sources: sshd with year inference across Dec→Jan, PostgreSQL from a real server's
log, and web access logs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from keyreaper.events.sources.postgresql import SOURCE as POSTGRES
from keyreaper.events.sources.sshd import SOURCE as SSHD
from tests.events.conftest import parse_bytes, parse_file
from tests.servers.postgres import PostgresServer

FP = "SHA256:q8Vb0zJ3cW8o2m1X1pKk6m2u4gGkqfJv1Y9lY6yQfW0"
AUTH_LOG = f"""\
Dec 30 23:10:01 bastion CRON[100]: pam_unix(cron:session): session opened for user root
Dec 30 23:59:58 bastion sshd[201]: Accepted publickey for deploy from 192.0.2.10 port 50022 ssh2: ED25519 {FP}
Dec 31 08:00:00 bastion sshd[202]: Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2
Dec 31 08:00:01 bastion sshd[202]: Invalid user oracle from 203.0.113.5 port 4243
Jan  1 00:00:05 bastion sshd[203]: Accepted password for alice from 192.0.2.11 port 50100 ssh2
Jan  2 12:00:00 bastion sshd[204]: Connection closed by 192.0.2.12 port 22 [preauth]
garbage that is not syslog
Jan  2 12:30:00 bastion sshd-session[205]: Accepted publickey for deploy from 192.0.2.10 port 50023 ssh2: RSA {FP}
"""


def _with_mtime(path: Path, when: datetime) -> Path:
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def test_sshd_year_inferred_across_new_year(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(AUTH_LOG)
    _with_mtime(log, datetime(2026, 1, 3, 9, 0, tzinfo=UTC))
    source, rows, rejects = parse_file(log)
    assert source == "sshd"
    assert rejects == [("auth.log:7", "not a syslog line")]
    times = [r["time"] for r in rows]
    assert times[0] == datetime(2025, 12, 30, 23, 59, 58, tzinfo=UTC)
    assert times[-1] == datetime(2026, 1, 2, 12, 30, tzinfo=UTC)
    assert [r["event_type"] for r in rows] == [
        "accepted_publickey",
        "failed_password",
        "invalid_user",
        "accepted_password",
        "accepted_publickey",
    ]
    assert rows[0]["credential_id"] == FP and rows[0]["credential_kind"] == "ssh_key"
    assert rows[0]["actor_name"] == "deploy" and rows[0]["src_ip"] == "192.0.2.10"
    assert rows[1]["outcome"] == "failure" and rows[1]["actor_type"] == "invalid_user"
    assert rows[0]["origin"] == "auth.log:2"


def test_sshd_year_from_mtime_in_same_year(tmp_path: Path) -> None:
    log = tmp_path / "secure"
    log.write_text(AUTH_LOG.split("Jan  1")[0])  # December only
    _with_mtime(log, datetime(2026, 6, 1, tzinfo=UTC))
    _, rows, _ = parse_file(log)
    assert {r["time"].year for r in rows} == {2025}  # December is after June: last year


def test_sshd_rfc3339_lines() -> None:
    line = (
        "2026-02-03T04:05:06.789+01:00 host sshd[9]: Accepted publickey for bob from "
        f"2001:db8::1 port 2 ssh2: ECDSA {FP}\n"
    )
    rows, rejects = parse_bytes(line.encode(), SSHD)
    assert rejects == []
    assert rows[0]["time"] == datetime(2026, 2, 3, 3, 5, 6, 789000, tzinfo=UTC)
    assert rows[0]["src_ip"] == "2001:db8::1"


def test_postgresql_from_a_real_server_log(postgres_server: PostgresServer) -> None:
    server = postgres_server
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET log_connections = on")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("DROP ROLE IF EXISTS kr_reader")
        conn.execute("CREATE ROLE kr_reader LOGIN PASSWORD 'right-horse-battery'")
    time.sleep(0.5)
    with psycopg.connect(server.dsn(user="kr_reader", password="right-horse-battery")) as conn:
        conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn(user="kr_reader", password="wrong"))
    log = server.datadir.parent / "log"
    rows, rejects = parse_bytes(log.read_bytes(), POSTGRES)
    assert rejects == []
    mine = [r for r in rows if r["credential_id"] == "kr_reader"]
    kinds = [(r["event_type"], r["outcome"], r["src_ip"]) for r in mine]
    assert ("connection_authorized", "success", "127.0.0.1") in kinds
    assert ("authentication_failed", "failure", "127.0.0.1") in kinds
    assert all(r["credential_kind"] == "db_role" for r in mine)
    assert b"right-horse-battery" not in log.read_bytes()


def test_postgresql_prefix_variants() -> None:
    text = (
        "2026-01-05 10:00:00.123 UTC [1234] LOG:  connection received: host=10.0.0.5 port=5\n"
        "2026-01-05 10:00:00.200 UTC [1234] LOG:  connection authorized: user=app"
        " database=prod application_name=psql\n"
        '2026-01-05 10:00:01 +0200 [77] FATAL:  password authentication failed for user "x"\n'
        "\tcontinuation line of a statement\n"
    )
    rows, rejects = parse_bytes(text.encode(), POSTGRES)
    assert rejects == []
    assert rows[0]["src_ip"] == "10.0.0.5" and rows[0]["target_name"] == "prod"
    assert rows[1]["time"] == datetime(2026, 1, 5, 8, 0, 1, tzinfo=UTC)
