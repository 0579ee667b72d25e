"""ASNs from a MaxMind-format database (usage.geoip_asn_db) for logs that carry only IPs.

The database is written here with mmdb-writer in the GeoLite2-ASN layout and read back by
keyreaper through the official maxminddb reader, so the whole path runs as in production.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.config import CONFIG_NAME
from keyreaper.workspace import Workspace
from tests.events import gen
from tests.usage.conftest import cred, load

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
KEY = "SHA256:asnkey"


def _write_asn_db(path: Path) -> None:
    import mmdb_writer  # dev extra
    from netaddr import IPSet

    writer = mmdb_writer.MMDBWriter(
        ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True
    )
    for network, number, org in [
        ("192.0.2.0/24", 64500, "Home Office Net"),
        ("203.0.113.0/24", 9009, "M247 Europe"),
        ("2001:db8::/32", 64511, "Documentation v6"),
    ]:
        writer.insert_network(
            IPSet([network]),
            {"autonomous_system_number": number, "autonomous_system_organization": org},
        )
    writer.to_db_file(str(path))


def _usage(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    window = ["--since", SINCE.isoformat(), "--until", NOW.isoformat()]
    code = main(["-w", str(ws.root), "usage", *window, "--json"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    rows = {r["credential_id"]: r for r in json.loads(out)}
    return rows[f"ssh:ssh_key:{KEY}"]


@pytest.fixture
def ssh_history(sqlite_workspace: Workspace, tmp_path: Path) -> Workspace:
    """Nine days from the usual office IP, then on the last day two new IPs: one in the same
    ASN (a new laptop) and one in AS9009 (the attacker's VPS provider in the Cloudflare case)."""
    ws = sqlite_workspace
    load(ws, [cred("ssh", "ssh_key", KEY)])
    lines = [gen.sshd(SINCE + timedelta(days=d, hours=2), "deploy", KEY) for d in range(9)]
    last_day = NOW - timedelta(hours=3)
    lines.append(gen.sshd(last_day, "deploy", KEY, ip="192.0.2.99"))
    lines.append(gen.sshd(last_day + timedelta(minutes=5), "deploy", KEY, ip="203.0.113.50"))
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    os.utime(log, (NOW.timestamp(), NOW.timestamp()))  # sshd lines have no year: from mtime
    assert main(["-w", str(ws.root), "logs", "ingest", "--no-progress", str(log)]) == 0
    return ws


def test_without_a_database_new_source_flags_say_ip_only(
    ssh_history: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    row = _usage(ssh_history, capsys)
    flags = row["flags"]
    assert isinstance(flags, list)
    assert "new_ip:203.0.113.50 (IP-only)" in flags
    assert not any(str(f).startswith("new_asn:") for f in flags)


def test_with_a_database_new_asns_are_flagged_and_same_asn_ips_are_not(
    ssh_history: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "GeoLite2-ASN-test.mmdb"
    _write_asn_db(db)
    config = ssh_history.root / CONFIG_NAME
    text = config.read_text()
    assert 'geoip_asn_db = ""' in text
    config.write_text(text.replace('geoip_asn_db = ""', f'geoip_asn_db = "{db}"'))
    ws = Workspace(ssh_history.root)
    try:
        row = _usage(ws, capsys)
    finally:
        ws.close()
    flags = row["flags"]
    assert isinstance(flags, list)
    # Both IPs are new; only the one in an ASN never seen for this key is a new ASN.
    assert "new_ip:203.0.113.50" in flags and "new_ip:192.0.2.99" in flags
    assert "new_asn:AS9009" in flags
    assert "new_asn:AS64500" not in flags
    assert not any("IP-only" in str(f) for f in flags)


def test_an_unreadable_database_is_a_clear_error(
    ssh_history: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "not-a-db.mmdb"
    bogus.write_bytes(b"this is not a MaxMind database")
    config = ssh_history.root / CONFIG_NAME
    config.write_text(config.read_text().replace('geoip_asn_db = ""', f'geoip_asn_db = "{bogus}"'))
    ws = Workspace(ssh_history.root)
    try:
        code = main(["-w", str(ws.root), "usage", "--json"])
    finally:
        ws.close()
    captured = capsys.readouterr()
    assert code != 0
    assert "not-a-db.mmdb" in captured.err and "Traceback" not in captured.err
