"""The Cloudflare miss, reproduced: 1,000 credentials, a week of Okta + CloudTrail + sshd
logs, and one credential claimed unused that was used once, from one IP, on day 5."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.domain import UsageVerdict
from keyreaper.usage import store as attestations
from keyreaper.workspace import Workspace
from tests.events import gen
from tests.usage.conftest import cred, load

ATTACKER_IP = "193.142.58.126"


def _week(now: datetime) -> list[datetime]:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=6 - i) for i in range(7)]


def _scenario(ws: Workspace, folder: Path, now: datetime) -> tuple[str, datetime]:
    rnd = random.Random(5)
    keys = [f"AKIA{i:016d}" for i in range(400)]
    tokens = [f"00T{i:017d}" for i in range(300)]
    fps = [f"SHA256:{i:043d}" for i in range(300)]
    target = keys[7]
    creds = [cred("aws", "access_key", k, claim="unused" if k == target else "") for k in keys]
    creds += [cred("okta", "api_token", t) for t in tokens]
    creds += [cred("ssh", "ssh_key", f) for f in fps]
    creds[8] = cred("aws", "access_key", keys[8], claim="unused")  # truly unused
    load(ws, creds)
    assert len(creds) == 1000
    days = _week(now)
    used_keys = [k for k in keys if k not in (target, keys[8])][:300]
    ips = [f"198.51.100.{i}" for i in range(1, 40)]
    attack_time = days[4] + timedelta(hours=3, minutes=17)
    for n, day in enumerate(days):
        span = (now - day).total_seconds() - 60 if day == days[-1] else 86_000

        def at(i: int, count: int, day: datetime = day, span: float = span) -> datetime:
            return day + timedelta(seconds=span * (i + 0.5) / count)

        records = [
            gen.cloudtrail(at(i, 600), rnd.choice(used_keys), ip=rnd.choice(ips))
            for i in range(600)
        ]
        if n == 4:
            records.insert(
                300, gen.cloudtrail(attack_time, target, ip=ATTACKER_IP, name="ListBuckets")
            )
        with gzip.open(folder / f"cloudtrail-{n}.json.gz", "wt") as fh:
            json.dump({"Records": records}, fh)
        okta = [
            gen.okta(at(i, 400), token=rnd.choice(tokens[:200]), ip=rnd.choice(ips))
            for i in range(400)
        ]
        (folder / f"okta-{n}.ndjson").write_bytes(gen.ndjson(okta))
        lines = [
            gen.sshd(at(i, 200), "deploy", rnd.choice(fps[:250]), ip=rnd.choice(ips), pid=i)
            for i in range(200)
        ]
        with open(folder / "auth.log", "a") as fh:
            fh.write("\n".join(lines) + "\n")
    return f"aws:access_key:{target}", attack_time


def test_claimed_unused_but_used_is_critical(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    folder = tmp_path / "logs"
    folder.mkdir()
    now = datetime.now(UTC)
    target, attack_time = _scenario(ws, folder, now)
    root = str(ws.root)
    assert main(["-w", root, "logs", "ingest", "--no-progress", str(folder)]) == 0
    capsys.readouterr()
    since = _week(now)[0].isoformat()
    code = main(["-w", root, "usage", "--since", since, "--json"])
    captured = capsys.readouterr()
    assert code == 1  # a critical flag
    rows = {r["credential_id"]: r for r in json.loads(captured.out)}
    assert len(rows) == 1000
    hit = rows[target]
    assert hit["verdict"] == "USED"
    assert hit["use_count"] == 1
    assert hit["distinct_ips"] == [ATTACKER_IP]
    assert datetime.fromisoformat(hit["last_use"]) == attack_time.replace(microsecond=0)
    assert hit["last_evidence"].startswith("cloudtrail ")
    assert hit["last_evidence"].endswith("cloudtrail-4.json.gz#300")
    assert "critical:claimed_unused_but_used" in hit["flags"]
    assert hit["severity"] == "critical"
    assert f"CRITICAL {target}" in captured.err
    # The only critical one: the other "claimed unused" key really is unused.
    assert [r["credential_id"] for r in rows.values() if r["severity"] == "critical"] == [target]
    other = rows["aws:access_key:AKIA0000000000000008"]
    assert other["verdict"] == "NOT_SEEN" and "never_used" in other["flags"]
    assert any(s.startswith("cloudtrail ") for s in other["sources_searched"])
    counts = {v: sum(r["verdict"] == v for r in rows.values()) for v in ("USED", "NOT_SEEN")}
    assert counts["USED"] > 500 and counts["NOT_SEEN"] > 100
    assert all(r["verdict"] != "UNKNOWN" for r in rows.values())
    stored = attestations.latest(ws.db, target)
    assert stored is not None and stored.verdict is UsageVerdict.USED
    assert stored.last_evidence == hit["last_evidence"]
