"""Verdicts and flags on small, hand-made event sets, on SQLite and PostgreSQL state stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyreaper.cli import main
from keyreaper.workspace import Workspace
from tests.events import gen
from tests.usage.conftest import cred, load

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 3, 1, tzinfo=UTC)


def _daily(make: object, days: int = 10) -> list[dict[str, object]]:
    assert callable(make)
    return [make(SINCE + timedelta(days=d, hours=1)) for d in range(days)]


def _usage(
    ws: Workspace, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict[str, dict[str, object]]:
    code = main(
        [
            "-w",
            str(ws.root),
            "usage",
            "--since",
            SINCE.isoformat(),
            "--until",
            NOW.isoformat(),
            "--json",
            *extra,
        ]
    )
    out = capsys.readouterr().out
    assert code in (0, 1)
    return {r["credential_id"]: r for r in json.loads(out)}


def _ingest(ws: Workspace, path: Path) -> None:
    assert main(["-w", str(ws.root), "logs", "ingest", "--no-progress", str(path)]) == 0


def test_verdicts_links_and_flags(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace
    parent, session_key = "AKIAPARENT0000000001", "ASIASESSION000000001"
    load(
        ws,
        [
            cred("aws", "access_key", parent),
            cred("aws", "access_key", "AKIAQUIET00000000001"),
            cred("okta", "service_account", "svc-sync@example.test", claim="unused"),
            cred("github", "api_token", "ghtok-1"),
            cred("ssh", "ssh_key", "SHA256:gapkey"),
            cred("okta", "api_token", "00Tfailonly"),
        ],
    )
    ct = _daily(lambda t: gen.cloudtrail(t, "AKIAOTHER00000000001"))
    ct.append(
        gen.cloudtrail(SINCE + timedelta(days=2), parent, name="AssumeRole", issued=session_key)
    )
    ct.append(
        gen.cloudtrail(SINCE + timedelta(days=3), session_key, ip="192.0.2.77", name="ListBuckets")
    )
    ct.append(
        gen.cloudtrail(SINCE + timedelta(days=4), "AKIAQUIET00000000001", error="AccessDenied")
    )
    (tmp_path / "ct.ndjson").write_bytes(gen.ndjson(ct))
    okta = _daily(lambda t: gen.okta(t, actor="00uhuman"))
    okta.append(
        gen.okta(
            SINCE + timedelta(days=1), actor="svc-sync@example.test", ip="198.51.100.1", asn=64501
        )
    )
    okta.append(
        gen.okta(
            NOW - timedelta(days=1), actor="svc-sync@example.test", ip="198.51.100.2", asn=64502
        )
    )
    okta.append(gen.okta(NOW - timedelta(hours=2), token="00Tfailonly", result="FAILURE"))
    (tmp_path / "okta.ndjson").write_bytes(gen.ndjson(okta))
    # sshd: no events on March 5 and 6
    lines = [
        gen.sshd(SINCE + timedelta(days=d, hours=2), "u", "SHA256:other")
        for d in range(10)
        if d not in (4, 5)
    ]
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    import os

    os.utime(log, (NOW.timestamp(), NOW.timestamp()))
    for name in ("ct.ndjson", "okta.ndjson", "auth.log"):
        _ingest(ws, tmp_path / name)
    capsys.readouterr()
    rows = _usage(ws, capsys)

    chain = rows[f"aws:access_key:{parent}"]
    assert chain["verdict"] == "USED" and chain["use_count"] == 2  # AssumeRole + the ASIA use
    assert chain["last_evidence"].endswith("ct.ndjson:12")

    quiet = rows["aws:access_key:AKIAQUIET00000000001"]
    assert quiet["verdict"] == "NOT_SEEN"  # a refused call is not a use
    assert quiet["sources_searched"] and quiet["gaps"] == []

    svc = rows["okta:service_account:svc-sync@example.test"]
    assert svc["verdict"] == "USED" and svc["use_count"] == 2  # matched on the actor
    assert "critical:claimed_unused_but_used" in svc["flags"]
    assert "new_ip:198.51.100.2" in svc["flags"] and "new_asn:AS64502" in svc["flags"]
    assert svc["distinct_asns"] == [64502]  # the last use and the recent days

    gh = rows["github:api_token:ghtok-1"]
    assert gh["verdict"] == "UNKNOWN" and gh["gaps"] == ["github: no events ingested"]

    gap = rows["ssh:ssh_key:SHA256:gapkey"]
    assert gap["verdict"] == "UNKNOWN"
    assert gap["gaps"] == ["sshd: no events on 2026-03-05..2026-03-06"]

    failed = rows["okta:api_token:00Tfailonly"]
    assert failed["verdict"] == "NOT_SEEN" and failed["use_count"] == 0

    one = _usage(ws, capsys, "--credential", "aws:access_key:AKIAQUIET00000000001")
    assert list(one) == ["aws:access_key:AKIAQUIET00000000001"]
    stored = ws.db.query("SELECT severity, count(*) AS n FROM attestations GROUP BY severity")
    assert {r["severity"]: int(r["n"]) for r in stored}["critical"] == 1


def test_stale_and_ip_only_flags(
    sqlite_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = sqlite_workspace
    load(ws, [cred("aws", "access_key", "AKIASTALE00000000001")])
    old = datetime(2025, 12, 1, tzinfo=UTC)
    recs = [
        gen.cloudtrail(old + timedelta(days=d), "AKIASTALE00000000001" if d == 0 else "AKIAX")
        for d in range(100)
    ]
    (tmp_path / "ct.ndjson").write_bytes(gen.ndjson(recs))
    _ingest(ws, tmp_path / "ct.ndjson")
    capsys.readouterr()
    rows = _usage(ws, capsys)
    row = rows["aws:access_key:AKIASTALE00000000001"]
    assert row["verdict"] == "NOT_SEEN"
    assert "stale:99d" in row["flags"] and "never_used" not in row["flags"]


def test_unknown_credential_and_bad_date(
    sqlite_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(sqlite_workspace.root)
    assert main(["-w", root, "usage", "--credential", "nope"]) == 2
    assert "no credential 'nope'" in capsys.readouterr().err
    assert main(["-w", root, "usage", "--since", "yesterday"]) == 2
    assert "--since: expected a date" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("provider", "kind", "sources"),
    [
        ("cloudflare", "service_token", ("cloudflare_access",)),
        ("cloudflare_access", "service_token", ("cloudflare_access",)),
        ("Atlassian", "service_account", ("atlassian_org", "jira", "confluence", "bitbucket")),
        ("vault", "access_key", ("cloudtrail",)),
        ("vault", "service_token", ()),
    ],
)
def test_relevant_sources_by_provider_then_kind(
    provider: str, kind: str, sources: tuple[str, ...]
) -> None:
    from keyreaper.domain import Credential
    from keyreaper.usage.attest import relevant_sources

    assert relevant_sources(Credential("c", provider, kind, ("x",))) == sources
