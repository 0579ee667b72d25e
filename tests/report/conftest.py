"""An incident workspace built through the real commands: the demo's steps (inventory, logs,
usage, the HAR exposure, the wiki scan, IoCs, hunt, sweep, timeline, the Code Red plan), then
a log line with hostile names, a rotation campaign run against the command provider, and a
second hunt; then `keyreaper report`."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import re
import sys
from dataclasses import dataclass
from hashlib import md5, sha1, sha256
from pathlib import Path
from typing import Any

import pytest

from keyreaper.cli import main
from tests.demo.scripts import demo

REPO = Path(__file__).resolve().parents[2]
FAKE_TARGET = REPO / "tests" / "rotate" / "fake_target.py"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SINCE = "2023-10-01"


def cli(ws: Path, *args: str) -> tuple[int, str, str]:
    """keyreaper in this process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-w", str(ws), *args])
    return code, out.getvalue(), err.getvalue()


def cli_json(ws: Path, *args: str) -> Any:
    code, out, err = cli(ws, *args, "--json")
    assert code in (0, 1), err
    return json.loads(out)


@dataclass
class Incident:
    ws: Path
    report: Path
    html: str
    usage: str  # what the demo's `usage --json` step printed (and stored)
    canaries: list[str]  # every secret that went in, in the forms it could leak
    hunt: dict[str, Any]  # `hunt --json` of the last hunt


def _hostile_log(folder: Path) -> Path:
    """One Okta System Log event from the attacker's IP whose actor and target names are
    markup: the report must show them as text."""
    src = REPO / "examples" / "incident" / "logs" / "okta" / "system-log.ndjson"
    line = next(x for x in src.read_text().splitlines() if "193.142.58.126" in x)
    event = json.loads(line)
    event["actor"].update(displayName=SCRIPT, alternateId=SCRIPT)
    event["target"] = [{"id": "00x", "type": "User", "alternateId": IMG, "displayName": IMG}]
    event["published"] = "2023-11-20T10:00:00.000Z"
    event["uuid"] = "0" * 32
    path = folder / "okta" / "hostile.ndjson"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(event) + "\n")
    return path


def _command_campaign(ws: Path, tmp: Path) -> list[str]:
    """Two command-provider credentials imported with their secrets (fingerprinted, dropped),
    rotated to verified death; returns the old and the delivered new secrets."""
    old = {
        "key-old0": "ReportCanaryOldSecret0xxxxxxxx",
        "key-old1": "ReportCanaryOldSecret1yyyyyyyy",
    }
    csv = tmp / "command-creds.csv"
    csv.write_text(
        "id,provider,kind,identifier,secret\n"
        + "".join(f"cmd-{k},command,api_token,{k},{v}\n" for k, v in old.items())
    )
    assert cli(ws, "inventory", "import", str(csv))[0] == 0
    state = tmp / "target.json"
    state.write_text(json.dumps({"keys": {k: {"secret": v, "tag": "", "active": True}
                                          for k, v in old.items()}}))  # fmt: skip
    secrets = tmp / "old-secrets.json"
    secrets.write_text(json.dumps({f"cmd-{k}": v for k, v in old.items()}))
    secrets.chmod(0o600)
    sink = tmp / "delivered"
    ops = ("probe", "create", "revoke", "tagged", "discard")
    provider = "".join(f'{op} = "{sys.executable} {FAKE_TARGET} {state} {op}"\n' for op in ops)
    targets = tmp / "targets.toml"
    targets.write_text(
        "[campaign]\nverify_count = 2\nverify_spacing = 0.01\nbackoff = 0.01\n\n"
        f'[secrets]\ntype = "file"\npath = "{secrets}"\n\n'
        f'[sinks.default]\ntype = "file"\ndir = "{sink}"\n\n'
        f'[providers.command]\ntype = "command"\n{provider}'
    )
    assert cli(ws, "campaign", "plan", "cmd-rotation", "--select", "provider=command")[0] == 0
    code, _, err = cli(ws, "campaign", "run", "cmd-rotation", "--targets", str(targets),
                       "--no-progress")  # fmt: skip
    assert code == 0, err
    new = [p.read_text().strip() for p in sink.iterdir() if p.is_file()]
    assert len(new) == 2
    return [*old.values(), *new]


def _wiki_secrets() -> list[str]:
    page = (REPO / "examples" / "incident" / "wiki" / "OPS-inventory-sync-runbook.html").read_text()
    aws = re.search(r"aws_secret_access_key</td><td[^>]*>([^<]+)<", page)
    okta = re.search(r"SSWS (\S+)'", page)
    assert aws and okta
    return [aws.group(1), okta.group(1)]


def _build(tmp: Path) -> dict[str, Any]:
    ws = tmp / "ws"
    results = demo.run(ws, echo=False)
    assert cli(ws, "logs", "ingest", "--no-progress", str(_hostile_log(tmp / "hostile")))[0] == 0
    secrets = _command_campaign(ws, tmp)
    hunt = cli_json(ws, "hunt", "--since", SINCE)
    report = tmp / "out" / "incident.html"
    code, out, err = cli(ws, "report", "--out", str(report), "--since", SINCE)
    assert code == 0, err
    assert f"wrote {report}" in out
    planted = [*demo.planted_secrets(), *_wiki_secrets(), *secrets]
    forms = [f for s in planted for f in demo.encodings(s)]
    # and the bare hashes a careless tool would write (RELIABILITY.md: never those either)
    forms += [h(s.encode()).hexdigest() for s in planted for h in (sha256, sha1, md5)]
    return {"ws": str(ws), "report": str(report), "usage": results["usage"].out,
            "canaries": forms, "hunt": hunt}  # fmt: skip


@pytest.fixture(scope="session")
def incident(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Incident:
    """Built once for the whole run: under xdist the first worker builds it in the shared
    temporary folder while the others wait on the lock, then all read it."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent
    tmp = root / "report-incident"
    with open(root / "report-incident.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = tmp / "built.json"
        if not done.exists():
            tmp.mkdir(exist_ok=True)
            done.write_text(json.dumps(_build(tmp)))
    built = json.loads(done.read_text())
    report = Path(built["report"])
    return Incident(Path(built["ws"]), report, report.read_text(), built["usage"],
                    built["canaries"], built["hunt"])  # fmt: skip
