"""`make demo`: the main job on the bundled example incident, step by step.

The incident (examples/incident, written by its generate.py) retells the 2023 Okta support-HAR
breach and Cloudflare's Thanksgiving intrusion at a fictional company. The demo recreates
./demo-workspace and walks the flow an analyst follows, each step a `keyreaper` command with a
heading and the one thing it teaches. STEPS is an ordered list: append a Step to extend it.
An exit code listed in `ok` is a finding (e.g. `usage` exits 1 on a critical flag), not a failure.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = Path("examples") / "incident"  # relative to REPO, so evidence reads short
WORKSPACE = REPO / "demo-workspace"
WINDOW = ("--since", "2023-10-01", "--until", "2023-11-24")  # the usage window
T0 = "2023-10-18T14:05:00Z"  # the HAR reached the support system


@dataclass(frozen=True)
class Step:
    """One step: `keyreaper ARGS` ({ws} and {ex} are filled in), or a Python check."""

    name: str
    title: str
    learn: str  # what the analyst learns, one line
    args: tuple[str, ...] = ()
    ok: tuple[int, ...] = (0,)  # exit codes that are results, not failures
    stdin: str | None = None
    show: int = 30  # output lines printed (the rest is counted)
    check: Callable[[Path], tuple[int, str]] | None = None  # instead of args
    workspace: bool = True  # pass --workspace
    view: Callable[[str], str] | None = None  # how the (JSON) output is shown


@dataclass
class Result:
    step: Step
    code: int
    out: str
    err: str
    seconds: float


def planted_secrets() -> tuple[str, ...]:
    """The secrets generate.py planted in the HAR (for the canary checks)."""
    sys.path.insert(0, str(REPO / EXAMPLE))
    try:
        import generate  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return tuple(generate.PLANTED_SECRETS)


def encodings(secret: str) -> list[str]:
    """A secret as it may leak: as is, URL-encoded, base64 at each of its three alignments."""
    raw = secret.encode()
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    for pad in range(3):
        b64 = base64.b64encode(b"\0" * pad + raw).decode()
        # keep only the part that depends on the secret alone, not on what surrounds it
        start = {0: 0, 1: 4, 2: 4}[pad]
        forms.add(b64[start : len(b64) - 4])
    return sorted(f for f in forms if len(f) >= 12)


def sanitized_har_check(ws: Path) -> tuple[int, str]:
    original = (REPO / EXAMPLE / "har" / "okta-support-case.har").read_text()
    cleaned = (ws / "okta-support-case.sanitized.har").read_text()
    secrets = planted_secrets()
    before = sum(s in original for s in secrets)
    after = [s[:4] + "…" for s in secrets if any(f in cleaned for f in encodings(s))]
    lines = [
        f"original HAR:  {before} of {len(secrets)} planted secrets present",
        f"sanitized HAR: {len(after)} of {len(secrets)} present (as is, URL-encoded or base64)",
    ]
    return (1 if after else 0), "\n".join(lines) + "\n"


def _group(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], tuple[str, ...]]) -> str:
    """Rows with the same key become one line: the key, the count and the first origin."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for row in rows:
        origin = str(row.get("origin") or row.get("evidence") or "")
        groups.setdefault(key(row), [0, origin])[0] += 1
    return "".join(f"{'  '.join(k)}  x{n}  {origin}\n" for k, (n, origin) in groups.items())


def usage_view(text: str) -> str:
    out = []
    for r in json.loads(text):
        if r["verdict"] == "USED":
            why = f"last use {r['last_use'][:16]} from {', '.join(r['distinct_ips'])}: {r['last_evidence']}"
        elif r["verdict"] == "NOT_SEEN":
            why = f"searched {len(r['sources_searched'])} source(s), no gap: " + "; ".join(
                r["sources_searched"]
            )
        else:
            why = "blind: " + "; ".join(r["gaps"])
        flag = "CRITICAL " if r["severity"] == "critical" else ""
        claim = f"claimed {r['claim']}" if r["claim"] else "no claim"
        out.append(f"{r['credential_id']:<19} {claim:<15} {flag}{r['verdict']:<9} {why}")
    return "\n".join(out) + "\n"


def exposure_use_view(text: str) -> str:
    out = []
    for r in json.loads(text):
        out.append(
            f"{r['credential_id']} ({'/'.join(r['exposed_as'])}): {r['verdict']}, {r['uses']} use(s) "
            f"after T0, {r['uses_before_t0']} before; new IPs {', '.join(r['new_ips'])}, "
            f"new ASNs {', '.join(f'AS{a}' for a in r['new_asns'])}"
        )
        for s in r["replayed_sessions"]:
            out.append(
                f"  session {s['session']} replayed {s['first_time'][:16]} from {s['src_ip']} "
                f"(AS{s['src_asn']}): {s['origin']}"
            )
        out += [f"  {e['what']}: {e['origin']}" for e in r["evidence"]]
    return "\n".join(out) + "\n"


def hunt_view(text: str) -> str:
    hits = sorted(json.loads(text)["hits"], key=lambda h: (h["time"], h["hunt"]))
    return _group(hits, lambda h: (h["time"][:10], h["hunt"], h["source"], h["actor"] or "-"))


def sweep_view(text: str) -> str:
    return "".join(
        f"{h['time'][:16]}  {h['detail']['what']:<12} {h['event_type']} -> {h['target']} "
        f"from {h['src_ip']}: {h['origin']}\n"
        for h in json.loads(text)
    )


def timeline_view(text: str) -> str:
    def key(r: dict[str, Any]) -> tuple[str, ...]:
        if r["lane"] == "hit" and r["what"].startswith("ioc:"):  # many: one line per day
            return (r["time"][:10] + "      ", r["lane"], f"{r['what'][:60]} in {r['source']}")
        return (r["time"][:16], r["lane"], r["what"][:90])

    return _group(json.loads(text), key)


STEPS: list[Step] = [
    Step(
        "init",
        "A workspace",
        "state store, event store and a 0600 fingerprint key",
        ("init", "{ws}"),
        workspace=False,
    ),
    Step(
        "inventory",
        "Inventory: every credential, with who claims what",
        "four credentials were claimed 'unused' on Oct 20 and left live; secrets in the file "
        "are fingerprinted and dropped",
        ("inventory", "import", "{ex}/inventory.csv"),
    ),
    Step(
        "claims",
        "What the team believed",
        "the claims keyreaper is about to test",
        ("inventory", "list", "--tag", "prod"),
    ),
    Step(
        "ingest",
        "Logs: eight sources, ~9 weeks",
        "every file detected, nothing rejected",
        ("logs", "ingest", "--no-progress", "{ex}/logs"),
    ),
    Step(
        "sources",
        "Coverage and gaps",
        "what the logs can prove, and where they are blind "
        "(the wiki's audit export missed three days)",
        ("logs", "sources"),
    ),
    Step(
        "usage",
        "Proven use: were the 'unused' credentials unused?",
        "all four were USED (critical, with the line that proves it); the old jump key is "
        "NOT_SEEN with full coverage, the DB role UNKNOWN: no log could show it",
        ("usage", *WINDOW, "--json"),
        view=usage_view,
        ok=(0, 1),
        show=40,
    ),
    Step(
        "exposure",
        "Exposure: the HAR sent to 'Okta support'",
        "the admin's session cookie and SSWS token match the inventory by fingerprint; "
        "other cookies are orphans someone must own",
        (
            "exposure",
            "add",
            "--name",
            "okta-support-har",
            "--t0",
            T0,
            "{ex}/har/okta-support-case.har",
        ),
    ),
    Step(
        "orphans",
        "Leaked secrets no inventory entry owns",
        "the device token, the Java session, the XSRF token: someone must own and kill each",
        ("exposure", "show", "okta-support-har", "--orphans"),
    ),
    Step(
        "exposure-use",
        "Use after exposure",
        "the session was replayed from 193.142.58.126 "
        "(AS9009, M247) 26 minutes after the upload, and the token called the admin API",
        ("exposure", "use", "okta-support-har", "--json"),
        view=exposure_use_view,
    ),
    Step(
        "sanitize",
        "Sanitize the HAR before sending it anywhere",
        "cookies, the SSWS token, the XSRF token and their echoes removed",
        (
            "har",
            "sanitize",
            "{ex}/har/okta-support-case.har",
            "{ws}/okta-support-case.sanitized.har",
        ),
        workspace=False,
    ),
    Step(
        "canary",
        "Is anything left in the sanitized HAR?",
        "none of the planted secrets, in any encoding",
        check=sanitized_har_check,
    ),
    Step(
        "scan",
        "Scan the wiki export for embedded secrets",
        "an AWS key pair split across two table cells and an Okta token in a curl line; "
        "recorded as an exposure, the unknown ones as orphan credentials",
        (
            "scan",
            "--no-progress",
            "--into-workspace",
            "--exposure",
            "wiki-scan",
            "{ex}/wiki",
        ),
        ok=(0, 1),
    ),
    Step(
        "iocs",
        "Cloudflare's indicators, pasted from the blog",
        "the defanged table becomes IPv4, domain, file name and SHA-256 indicators",
        ("ioc", "import", "{ex}/iocs.txt"),
    ),
    Step(
        "hunt",
        "Hunt: indicators, packs and Sigma over every source",
        "193.142.58.126 everywhere from Oct 18 to Nov 23, the secret searches, the look-alike "
        "user, ScriptRunner, the mass git archive and the admin-group grant",
        ("hunt", "--since", "2023-10-01", "--json"),
        view=hunt_view,
        show=45,
    ),
    Step(
        "sweep",
        "What did the Smartsheet account change since T0?",
        "a look-alike user, a plugin and an admin-group grant: the persistence to undo",
        ("hunt", "sweep", "smartsheet-svc", "--since", T0, "--json"),
        view=sweep_view,
    ),
    Step(
        "coverage",
        "Which hunts were blind?",
        "hunts that had nothing to look at",
        ("hunt", "coverage", "--since", "2023-10-01"),
        show=25,
    ),
    Step(
        "timeline",
        "The incident in order",
        "from the HAR upload to the admin-group alert",
        (
            "timeline",
            "--since",
            T0,
            "--until",
            "2023-11-24",
            "--picture",
            "{ws}/timeline.png",
            "--json",
        ),
        view=timeline_view,
        show=60,
    ),
    Step(
        "export-table",
        "Share what we confirmed",
        "only indicators our logs confirmed",
        ("ioc", "export", "--table"),
    ),
    Step(
        "export-stix",
        "... and as STIX 2.1",
        "a bundle for the ISAC",
        ("ioc", "export", "--stix", "{ws}/iocs.stix.json"),
    ),
    # Scan and campaign steps are appended here once those commands are merged.
    Step(
        "plan",
        "Code Red: plan a campaign over every credential",
        "the four 'unused' ones rotate because they are USED; proven-unused ones are revoked, "
        "not skipped; leaked values nobody owns are blocked with the reason",
        ("campaign", "plan", "code-red", "--all"),
        show=40,
    ),
    Step(
        "status",
        "Nothing ends on belief",
        "every item not yet verified dead, and why",
        ("campaign", "status", "code-red"),
        ok=(0, 1),
        show=30,
    ),
    Step(
        "report",
        "The incident report: one HTML file to read offline or print",
        "campaign progress, exposures, usage, hunt hits and coverage gaps, the timeline and "
        "the confirmed IoCs, as pictures and tables, with no secret in it",
        ("report", "--out", "{ws}/report.html", "--since", "2023-10-01", "--until", "2023-11-24"),
    ),
]


def _in_process(args: list[str], stdin: str | None) -> tuple[int, str, str]:
    """keyreaper.cli.main in this process: one import for every step instead of one each."""
    from keyreaper.cli import main as keyreaper

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = keyreaper(args)
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def run_step(step: Step, ws: Path, subprocesses: bool = False) -> Result:
    start = time.monotonic()
    if step.check is not None:
        code, out = step.check(ws)
        return Result(step, code, out, "", time.monotonic() - start)
    args = [a.format(ws=ws, ex=EXAMPLE) for a in step.args]
    if step.workspace:
        args = ["--workspace", str(ws), *args]
    if not subprocesses:
        code, out, err = _in_process(args, step.stdin)
        return Result(step, code, out, err, time.monotonic() - start)
    proc = subprocess.run(
        [sys.executable, "-m", "keyreaper", *args],
        input=step.stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    return Result(step, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def show(result: Result, ws: Path) -> None:
    step = result.step
    where = ws.relative_to(REPO) if ws.is_relative_to(REPO) else ws
    args = [a.format(ws=where, ex=EXAMPLE) for a in step.args]
    command = "$ keyreaper " + shlex.join(args) if step.check is None else "# a check by the demo"
    if step.view:
        command += "    # shown condensed"
    print(f"\n\033[1m== {step.title}\033[0m\n   {step.learn}\n{command}", flush=True)
    out = step.view(result.out) if step.view and result.out.strip() else result.out
    lines = (out + result.err).splitlines()
    print("\n".join(lines[: step.show]))
    if len(lines) > step.show:
        print(f"   … {len(lines) - step.show} more lines")
    print(f"   [exit {result.code}, {result.seconds:.1f} s]", flush=True)


def run(
    ws: Path, steps: list[Step] = STEPS, echo: bool = True, subprocesses: bool = False
) -> dict[str, Result]:
    """Run the steps in order into workspace ws (from the repository root, so evidence paths
    read short); stop at the first unexpected exit code."""
    results: dict[str, Result] = {}
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        for step in steps:
            result = run_step(step, ws, subprocesses)
            results[step.name] = result
            if echo:
                show(result, ws)
            if result.code not in step.ok:
                raise SystemExit(f"demo step failed ({result.code}): {step.title}\n{result.err}")
    finally:
        os.chdir(cwd)
    return results


def main() -> None:
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    start = time.monotonic()
    run(WORKSPACE, subprocesses="--subprocess" in sys.argv)
    print(f"\nworkspace: {WORKSPACE}  ({time.monotonic() - start:.0f} s)")
    print(f"report:    {WORKSPACE / 'report.html'}")


if __name__ == "__main__":
    # Before keyreaper is imported: its console takes the width from the environment.
    os.environ.setdefault("COLUMNS", "160")
    main()
