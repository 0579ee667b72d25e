"""Generated logs reproducing Cloudflare's published timeline of the Nov 2023 intrusion
(blog.cloudflare.com/thanksgiving-2023-security-incident), in each source's own record shape,
on top of weeks of ordinary service-account activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

ATTACKER = "193.142.58.126"
SVC = "smartsheet-svc"
BB = "bitbucket-svc"
AWS_KEY = "AKIAREPLAYEXAMPLE0001"

CLOUDFLARE_TABLE = """\
| indicator | type | note |
|---|---|---|
| 193.142.58[.]126 | IPv4 | primary actor infrastructure (M247, Bucharest) |
| 198.244.174[.]214 | IPv4 | Sliver C2 (OVH, London) |
| idowall[.]com | domain | served the Sliver payload |
| jvm-agent, sha256 bdd1a085d651082ad567b03e5186d1d46d822bb7794157ab8cce95d850a3caaf | file | Sliver payload |
"""


def t(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2023, 11, day, hour, minute, tzinfo=UTC)


def _atl(when: datetime, action: str, actor: str, ip: str, objects: list[tuple[str, str]],
         category: str = "Users and groups") -> dict[str, Any]:  # fmt: skip
    return {
        "timestamp": when.isoformat().replace("+00:00", "Z"),
        "author": {"name": actor, "type": "user"},
        "auditType": {"action": action, "category": category},
        "affectedObjects": [{"name": n, "type": k} for n, k in objects],
        "source": ip,
        "method": "Browser",
    }


def _web(when: datetime, actor: str, ip: str, url: str, status: int = 200) -> dict[str, Any]:
    return {"time": when.isoformat(), "event_type": "GET", "actor_name": actor, "src_ip": ip,
            "target_name": url, "outcome": "success" if status < 400 else "failure",
            "user_agent": "python-requests/2.31.0", "status": status}  # fmt: skip


def records() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        "okta": [], "jira": [], "web": [], "sshd": [], "cloudtrail": [], "bitbucket": [],
    }  # fmt: skip
    # Baseline: October to Nov 10, ordinary work from the office network.
    base = datetime(2023, 10, 2, 9, tzinfo=UTC)
    for d in range(40):
        day = base + timedelta(days=d)
        out["jira"].append(
            _atl(day, "Issue updated", SVC, "10.20.0.5", [("OPS-1", "ISSUE")], "Issues")
        )
        out["web"].append(_web(day, SVC, "10.20.0.5", "/rest/api/2/issue/OPS-1"))
        out["okta"].append(_okta(day, "user.session.start", SVC, "10.20.0.5", "SUCCESS"))
        out["bitbucket"].append(_atl(day, "Repository accessed by user", BB, "10.20.0.6",
                                     [("infra/base", "REPOSITORY")], "Repositories"))  # fmt: skip
        out["cloudtrail"].append(_ct(day, "GetCallerIdentity", "10.20.0.7"))
        out["sshd"].append({"time": day.isoformat(), "event_type": "Accepted publickey",
                            "actor_name": "deploy", "src_ip": "10.20.0.8", "outcome": "success",
                            "credential_id": "SHA256:deploykey"})  # fmt: skip
    # Nov 14: probing, denied.
    out["okta"].append(_okta(t(14, 10), "user.session.start", SVC, ATTACKER, "DENY"))
    out["cloudtrail"].append(_ct(t(14, 11), "AssumeRole", ATTACKER, "AccessDenied"))
    # Nov 15: wiki searches for secret words.
    for n, word in enumerate(
        ["secret", "token", "client-secret", "cloudflared", "secret", "password"]
    ):
        out["web"].append(_web(t(15, 9, n * 5), SVC, ATTACKER,
                               f"/dosearchsite.action?queryString={word}"))  # fmt: skip
    # Nov 16: a look-alike user.
    out["jira"].append(
        _atl(t(16, 14), "User created", SVC, ATTACKER, [("smartsheet-svcs", "USER")])
    )
    # Nov 22: ScriptRunner installed, the payload fetched, a console attempt denied.
    out["jira"].append(_atl(t(22, 10), "Plugin installed", SVC, ATTACKER,
                            [("ScriptRunner for Jira", "PLUGIN")], "Apps"))  # fmt: skip
    out["web"].append(_web(t(22, 10, 5), "jira", "10.20.0.9", "https://idowall.com/jvm-agent"))
    for n in range(12):
        out["bitbucket"].append(_atl(t(22, 13, n * 3), "Repository archive downloaded", BB, ATTACKER,
                                     [(f"infra/repo{n}", "REPOSITORY")], "Repositories"))  # fmt: skip
    out["sshd"].append({"time": t(22, 15).isoformat(), "event_type": "Failed publickey",
                        "actor_name": "root", "src_ip": ATTACKER, "outcome": "failure",
                        "target_name": "console-gru01"})  # fmt: skip
    # Nov 23 16:00: the service account adds itself to an admin group.
    out["jira"].append(_atl(t(23, 16), "User added to group", SVC, ATTACKER,
                            [("jira-administrators", "GROUP"), (SVC, "USER")]))  # fmt: skip
    return out


def _okta(when: datetime, etype: str, actor: str, ip: str, result: str) -> dict[str, Any]:
    return {"published": when.isoformat(), "eventType": etype,
            "actor": {"id": "00u" + actor, "alternateId": actor, "type": "User"},
            "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
            "outcome": {"result": result}, "target": []}  # fmt: skip


def _ct(when: datetime, name: str, ip: str, error: str = "") -> dict[str, Any]:
    rec: dict[str, Any] = {"eventTime": when.isoformat().replace("+00:00", "Z"), "eventName": name,
           "eventSource": "sts.amazonaws.com", "sourceIPAddress": ip, "userAgent": "aws-cli/2",
           "userIdentity": {"type": "IAMUser", "userName": "probe-svc", "accessKeyId": AWS_KEY,
                            "principalId": "AIDAREPLAY"}}  # fmt: skip
    if error:
        rec["errorCode"] = error
    return rec
