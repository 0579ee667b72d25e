"""Write the bundled example incident: the Okta support-HAR breach and Cloudflare's
Thanksgiving 2023 intrusion, retold at a fictional company (corp.example).

Everything here is our own synthetic data, seeded and deterministic: running this script
twice writes the same bytes. Each log is in the record shape its real system writes (Okta
System Log NDJSON, CloudTrail `{"Records": [...]}`, sshd auth.log, Jira/Confluence/Bitbucket
Data Center audit files, Cloudflare Access Logpush, a combined access log of the wiki), over
weeks of ordinary work, with the incident on top:

- Oct 18 14:05: an admin's HAR, uploaded to "Okta support", carries her Okta session cookie
  and an SSWS API token; the attacker replays both from 193.142.58.126 (M247, AS9009).
- Four credentials are claimed "unused" on Oct 20 and left live; Nov 14 the attacker uses
  them: AWS probing (denied), Nov 15 wiki and Jira searches for secrets, Nov 16 a look-alike
  user, Nov 22 ScriptRunner and a denied console login, Nov 23 `git archive` of 76 repos and
  the service account added to an admin group (16:00; disabled 16:35).

Run: python examples/incident/generate.py   (rewrites the files beside it)
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RNG = random.Random(20231123)
# The four integrations were switched off on Oct 6, their credentials never revoked: quiet
# enough for someone to call them "unused" on Oct 20.
RETIRED = datetime(2023, 10, 7, tzinfo=UTC)

START = datetime(2023, 9, 25, tzinfo=UTC)  # logs begin (before the usage window)
END = datetime(2023, 11, 25, tzinfo=UTC)  # logs end (after it)
T0 = datetime(2023, 10, 18, 14, 5, tzinfo=UTC)  # the HAR reaches the support system

ATTACKER = "193.142.58.126"
ATTACKER_ASN, ATTACKER_ORG = 9009, "M247 Europe SRL"
ATTACKER_GEO = {"city": "Bucharest", "country": "Romania", "lat": 44.4268, "lon": 26.1025}
OFFICE_IPS = [f"198.51.100.{n}" for n in range(10, 16)]
OFFICE_ASN, OFFICE_ORG = 64500, "Corp Transit"
OFFICE_GEO = {"city": "San Francisco", "country": "United States", "lat": 37.7749, "lon": -122.4194}
SMARTSHEET_IP, MOVEWORKS_IP, AWS_SYNC_IP = "203.0.113.60", "203.0.113.50", "10.40.1.15"
SCANNERS = ["192.0.2.44", "192.0.2.91", "192.0.2.130"]

PEOPLE = ["dana.ortiz", "li.wei", "sam.keller", "priya.natarajan", "tom.berg", "ines.costa"]
ADMIN = "dana.ortiz"
DOMAIN = "corp.example"
SVC = "smartsheet-svc"
BB_SVC = "bitbucket-build-svc"
AWS_KEY = "AKIA4EXAMPLEPROBE001"
CI_KEY = "AKIA4EXAMPLECIDEPLOY"
MOVEWORKS_TOKEN = "moveworks-svc-token.access"  # noqa: S105 - a client id, not a secret


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


# The secrets inside the HAR (synthetic, drawn from the seeded generator) and the ids logs see.
SID_COOKIE = "102" + _rand(22)  # Okta `sid` cookie: the admin's session
API_TOKEN = "00" + _rand(40, string.ascii_letters + string.digits + "-_")  # SSWS token
DT_COOKIE = _rand(32)  # device token
JSESSIONID = _rand(32, "0123456789ABCDEF")
XSRF = _rand(30)
SESSION_ID = "102" + _rand(22)  # externalSessionId, as the System Log records it
TOKEN_ID = "00T" + _rand(17)  # the SSWS token's id (transaction.detail.requestApiTokenId)
NEW_TOKEN_ID = "00T" + _rand(17)  # its replacement after the Oct 18 rotation
DEPLOY_FP = "SHA256:" + _rand(43)
LEGACY_FP = "SHA256:" + _rand(43)  # an old jump-host key nobody uses: NOT_SEEN
ATTACKER_FP = "SHA256:" + _rand(43)
REPOS = [f"{p}/{n}" for p in ("infra", "edge", "auth", "billing") for n in range(1, 31)]


def iso(t: datetime, ms: bool = True) -> str:
    return t.isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")


def days() -> Iterator[datetime]:
    d = START
    while d < END:
        yield d
        d += timedelta(days=1)


def at(day: datetime, hour: float) -> datetime:
    return day + timedelta(seconds=int(hour * 3600) + RNG.randrange(60))


def uid(seed: str, n: int = 20) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


# -- Okta System Log ------------------------------------------------------------------------
def okta(t: datetime, etype: str, user: str, ip: str, result: str = "SUCCESS", *,
         session: str | None = None, token: str | None = None,
         target: tuple[str, str] | None = None, attacker: bool = False) -> dict[str, Any]:  # fmt: skip
    geo, asn, org = (
        (ATTACKER_GEO, ATTACKER_ASN, ATTACKER_ORG)
        if attacker
        else (OFFICE_GEO, OFFICE_ASN, OFFICE_ORG)
    )
    login = user if "@" in user else f"{user}@{DOMAIN}"
    ua = (
        "python-requests/2.31.0"
        if attacker and not session
        else (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/118.0 Safari/537.36"
        )
    )
    rec: dict[str, Any] = {
        "actor": {"id": "00u" + uid(login, 17), "alternateId": login, "displayName": user,
                  "type": "User"},
        "authenticationContext": {"externalSessionId": session},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": ua},
                   "geographicalContext": {"city": geo["city"], "country": geo["country"],
                                           "geolocation": {"lat": geo["lat"], "lon": geo["lon"]}}},
        "displayMessage": etype, "eventType": etype,
        "outcome": {"result": result, "reason": None if result == "SUCCESS" else "INVALID_CREDENTIALS"},
        "published": iso(t),
        "securityContext": {"asNumber": asn, "asOrg": org, "isp": org, "isProxy": False},
        "severity": "INFO" if result == "SUCCESS" else "WARN",
        "target": [{"id": "00g" + uid(target[1], 17), "type": target[0], "alternateId": target[1],
                    "displayName": target[1]}] if target else None,
        "transaction": {"id": uid(f"{t}{etype}{user}", 24), "type": "WEB",
                        "detail": {"requestApiTokenId": token} if token else {}},
        "uuid": uid(f"okta{t}{etype}{user}{ip}", 32),
        "version": "0",
    }  # fmt: skip
    return rec


def okta_log() -> list[dict[str, Any]]:
    out = []
    for day in days():
        for n, person in enumerate(PEOPLE):
            if day.weekday() >= 5 and n % 2:
                continue
            ip, sess = OFFICE_IPS[n], "102" + uid(f"{person}{day}", 22)
            out.append(okta(at(day, 8 + n * 0.4), "user.session.start", person, ip, session=sess))
            out.append(
                okta(at(day, 9 + n * 0.4), "user.authentication.sso", person, ip, session=sess)
            )
        # The SCIM sync runs with the admin API token (rotated after the HAR leak).
        tok = TOKEN_ID if day < T0 else NEW_TOKEN_ID
        out.append(okta(at(day, 3), "user.account.update_profile", "scim-sync", OFFICE_IPS[0],
                        token=tok, target=("User", f"{RNG.choice(PEOPLE)}@{DOMAIN}")))  # fmt: skip
    # Oct 18: the admin works in the console, records a HAR for a support case (T0 = upload).
    d = datetime(2023, 10, 18, tzinfo=UTC)
    ip = OFFICE_IPS[0]
    for h, et in ((13.5, "user.session.start"), (13.6, "user.session.access_admin_app"),
                  (13.9, "application.lifecycle.update")):  # fmt: skip
        out.append(okta(d + timedelta(hours=h), et, ADMIN, ip, session=SESSION_ID))
    # 14:31: the session replayed from the attacker, then the SSWS token from a script.
    out.append(okta(d + timedelta(hours=14, minutes=31), "user.session.access_admin_app", ADMIN,
                    ATTACKER, session=SESSION_ID, attacker=True))  # fmt: skip
    out.append(okta(d + timedelta(hours=14, minutes=33), "user.session.access_admin_app", ADMIN,
                    ATTACKER, session=SESSION_ID, attacker=True))  # fmt: skip
    out.append(okta(d + timedelta(hours=14, minutes=38), "zone.update", "scim-sync", ATTACKER,
                    token=TOKEN_ID, target=("Zone", "BlockedIpZone"), attacker=True))  # fmt: skip
    # 15:02: security clears the session and revokes the token from the office.
    out.append(okta(d + timedelta(hours=15, minutes=2), "user.session.clear", "sec.oncall", ip,
                    target=("User", f"{ADMIN}@{DOMAIN}")))  # fmt: skip
    out.append(okta(d + timedelta(hours=15, minutes=5), "system.api_token.revoke", "sec.oncall", ip,
                    target=("Token", TOKEN_ID)))  # fmt: skip
    # Nov 14: logins to Okta from the attacker are denied.
    for m in (2, 4, 9):
        out.append(okta(datetime(2023, 11, 14, 10, m, tzinfo=UTC), "user.session.start",
                        f"{SVC}@{DOMAIN}", ATTACKER, "FAILURE", attacker=True))  # fmt: skip
    return sorted(out, key=lambda r: r["published"])


# -- CloudTrail ------------------------------------------------------------------------------
def trail(t: datetime, name: str, source: str, key: str, user: str, ip: str,
          error: str = "") -> dict[str, Any]:  # fmt: skip
    rec: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA" + uid(user, 17).upper(),
                         "arn": f"arn:aws:iam::111122223333:user/{user}",
                         "accountId": "111122223333", "accessKeyId": key, "userName": user},
        "eventTime": iso(t, ms=False), "eventSource": source, "eventName": name,
        "awsRegion": "eu-west-1", "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.13.25 Python/3.11.5" if ip == ATTACKER else "Boto3/1.28.57",
        "requestParameters": None, "responseElements": None,
        "requestID": uid(f"req{t}{name}", 32), "eventID": uid(f"evt{t}{name}{key}", 32),
        "readOnly": True, "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
    }  # fmt: skip
    if error:
        rec["errorCode"] = error
        rec["errorMessage"] = (
            f"User: {rec['userIdentity']['arn']} is not authorized to perform: {name}"
        )
    return rec


def cloudtrail() -> dict[str, Any]:
    out = []
    for day in days():
        for h in (2, 10, 16):
            out.append(trail(at(day, h), "DescribeInstances", "ec2.amazonaws.com", CI_KEY,
                             "ci-deployer", "10.40.2.7"))  # fmt: skip
        if day.weekday() == 0 and day < RETIRED:  # the weekly inventory sync, retired
            out.append(trail(at(day, 4), "DescribeInstances", "ec2.amazonaws.com", AWS_KEY,
                             "inventory-sync", AWS_SYNC_IP))  # fmt: skip
    # Nov 14: the attacker checks the key works, then probes the segmented account: denied.
    t = datetime(2023, 11, 14, 11, 2, tzinfo=UTC)
    out.append(
        trail(t, "GetCallerIdentity", "sts.amazonaws.com", AWS_KEY, "inventory-sync", ATTACKER)
    )
    for n, (name, src, err) in enumerate([
        ("ListBuckets", "s3.amazonaws.com", "AccessDenied"),
        ("DescribeInstances", "ec2.amazonaws.com", "Client.UnauthorizedOperation"),
        ("ListSecrets", "secretsmanager.amazonaws.com", "AccessDenied"),
        ("AssumeRole", "sts.amazonaws.com", "AccessDenied"),
        ("ListUsers", "iam.amazonaws.com", "AccessDenied"),
    ], 1):  # fmt: skip
        out.append(trail(t + timedelta(minutes=n * 2), name, src, AWS_KEY, "inventory-sync",
                         ATTACKER, err))  # fmt: skip
    out.sort(key=lambda r: r["eventTime"])
    return {"Records": out}


# -- Atlassian Data Center audit files -------------------------------------------------------
def audit(system: str, t: datetime, action: str, category: str, author: str, ip: str,
          objects: list[tuple[str, str]], method: str = "Browser",
          extra: list[tuple[str, str]] | None = None, key: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "affectedObjects": [{"name": n, "type": k, "id": uid(n, 8)} for n, k in objects],
        "auditType": {"action": action, "actionI18nKey": key or f"{system}.audit.{uid(action, 6)}",
                      "area": "USER_MANAGEMENT", "category": category, "level": "BASE"},
        "author": {"id": uid(author, 8), "name": author, "type": "user"},
        "changedValues": [],
        "extraAttributes": [{"name": k, "value": v} for k, v in (extra or [])],
        "method": method, "source": ip, "system": f"https://{system}.{DOMAIN}",
        "timestamp": {"epochSecond": int(t.timestamp()), "nano": t.microsecond * 1000},
        "version": "1.0",
    }  # fmt: skip


def jira_log() -> list[dict[str, Any]]:
    out = []

    def j(t: datetime, action: str, cat: str, who: str, ip: str, objs: list[tuple[str, str]],
          method: str = "Browser", extra: list[tuple[str, str]] | None = None) -> None:  # fmt: skip
        out.append(audit("jira", t, action, cat, who, ip, objs, method, extra,
                         key=f"jira.auditing.{cat.replace(' ', '')}"))  # fmt: skip

    for day in days():
        for n, person in enumerate(PEOPLE[:4]):
            j(at(day, 9 + n), "JQL search performed", "search", person, f"10.20.0.{20 + n}", [],
              extra=[("JQL query", f"project = OPS AND assignee = {person}")])  # fmt: skip
        if day.weekday() < 5 and day < RETIRED:  # the Smartsheet sync, retired Oct 6
            j(at(day, 6), "JQL search performed", "search", SVC, SMARTSHEET_IP, [], "REST",
              [("JQL query", "project = OPS AND updated >= -1d")])  # fmt: skip
        if day.weekday() < 5:
            j(at(day, 14), "Filter updated", "filters", RNG.choice(PEOPLE), "10.20.0.30",
              [("Ops board", "FILTER")])  # fmt: skip
    # Nov 15: searches for secrets (36 tickets read).
    t = datetime(2023, 11, 15, 10, 5, tzinfo=UTC)
    for n, word in enumerate(["secret", "token", "cloudflared", "password", "credential",
                              "secret AND project = SEC", "token AND project = INFRA"]):  # fmt: skip
        j(t + timedelta(minutes=3 * n), "JQL search performed", "search", SVC, ATTACKER, [],
          "REST", [("JQL query", f"text ~ {word}")])  # fmt: skip
    # Nov 16: a look-alike user.
    j(datetime(2023, 11, 16, 9, 41, tzinfo=UTC), "User created", "user management", SVC,
      ATTACKER, [("smartsheet-svcs", "USER")], "REST")  # fmt: skip
    # Nov 22: ScriptRunner installed (it ran the Sliver payload).
    j(datetime(2023, 11, 22, 14, 12, tzinfo=UTC), "Plugin installed", "Apps", SVC, ATTACKER,
      [("ScriptRunner for Jira", "PLUGIN")], "REST", [("Version", "8.13.0")])  # fmt: skip
    # Nov 23 16:00: the service account adds itself to an admin group; disabled 16:35.
    j(datetime(2023, 11, 23, 16, 0, tzinfo=UTC), "User added to group", "group management", SVC,
      ATTACKER, [("jira-administrators", "GROUP"), (SVC, "USER")], "REST")  # fmt: skip
    j(datetime(2023, 11, 23, 16, 35, tzinfo=UTC), "User deactivated", "user management",
      "sec.oncall", "10.20.0.5", [(SVC, "USER")])  # fmt: skip
    return sorted(out, key=lambda r: r["timestamp"]["epochSecond"])


def confluence_log() -> list[dict[str, Any]]:
    out = []
    gap = (datetime(2023, 10, 28, tzinfo=UTC), datetime(2023, 10, 31, tzinfo=UTC))
    for day in days():
        if gap[0] <= day < gap[1]:
            continue  # the audit export failed for three days: a coverage gap
        for n, person in enumerate(PEOPLE[2:]):
            out.append(audit("wiki", at(day, 10 + n), "Page restrictions updated" if n % 2
                             else "Space configuration updated", "Spaces", person,
                             f"10.20.0.{40 + n}", [("Engineering", "Space")]))  # fmt: skip
    return sorted(out, key=lambda r: r["timestamp"]["epochSecond"])


def bitbucket_log() -> list[dict[str, Any]]:
    out = []

    def b(t: datetime, action: str, cat: str, who: str, ip: str, objs: list[tuple[str, str]],
          method: str = "Browser") -> None:  # fmt: skip
        out.append(audit("bitbucket", t, action, cat, who, ip, objs, method,
                         key=f"bitbucket.service.audit.{cat.replace(' ', '').lower()}"))  # fmt: skip

    for day in days():
        b(at(day, 11), "Pull request merged", "Pull requests", RNG.choice(PEOPLE), "10.20.0.50",
          [(RNG.choice(REPOS), "REPOSITORY")])  # fmt: skip
        if day.weekday() < 5 and day < RETIRED:  # the old build service, retired Oct 6
            b(at(day, 12), "Build status added", "Repositories", BB_SVC, "10.20.0.6",
              [(RNG.choice(REPOS[:10]), "REPOSITORY")], "REST")  # fmt: skip
    # Nov 23: 76 repositories pulled with `git archive`.
    t = datetime(2023, 11, 23, 9, 10, tzinfo=UTC)
    for n, repo in enumerate(RNG.sample(REPOS, 76)):
        b(t + timedelta(seconds=35 * n), "Repository archive downloaded", "Repositories", BB_SVC,
          ATTACKER, [(repo, "REPOSITORY")], "REST")  # fmt: skip
    return sorted(out, key=lambda r: r["timestamp"]["epochSecond"])


# -- Cloudflare Access (Logpush access_requests) ---------------------------------------------
def access(t: datetime, app: str, ip: str, *, email: str = "", token: str = "",
           allowed: bool = True) -> dict[str, Any]:  # fmt: skip
    rec: dict[str, Any] = {
        "Action": "login", "Allowed": allowed, "AppDomain": f"{app}.{DOMAIN}",
        "AppUUID": str(uid(app, 32)), "Connection": "service_token" if token else "okta",
        "Country": "ro" if ip == ATTACKER else "us", "CreatedAt": iso(t, ms=False),
        "Email": email, "IPAddress": ip, "RayID": uid(f"ray{t}{ip}{app}", 16),
        "UserUID": uid(email, 32) if email else "",
    }  # fmt: skip
    if token:
        rec["ServiceTokenID"] = token
    return rec


def access_log() -> list[dict[str, Any]]:
    out = []
    for day in days():
        for n, person in enumerate(PEOPLE):
            app = ("jira", "wiki")[n % 2]
            out.append(access(at(day, 8 + n * 0.5), app, OFFICE_IPS[n], email=f"{person}@{DOMAIN}"))
        if day.weekday() < 5 and day < RETIRED:  # Moveworks, until its pilot ended Oct 6
            out.append(access(at(day, 7), "jira", MOVEWORKS_IP, token=MOVEWORKS_TOKEN))
    # Nov 14-22: the leaked service token opens the gateway for the attacker.
    for d, h in ((14, 13.1), (15, 9.9), (15, 10.0), (16, 9.6), (22, 14.0), (23, 9.0), (23, 15.9)):
        for app in ("jira", "wiki"):
            t = datetime(2023, 11, d, tzinfo=UTC) + timedelta(hours=h)
            out.append(access(t, app, ATTACKER, token=MOVEWORKS_TOKEN))
    # A browser login from the attacker is refused (no Okta session).
    out.append(access(datetime(2023, 11, 14, 10, 15, tzinfo=UTC), "dash", ATTACKER,
                      email=f"{ADMIN}@{DOMAIN}", allowed=False))  # fmt: skip
    return sorted(out, key=lambda r: r["CreatedAt"])


# -- the wiki's access log (combined format) -------------------------------------------------
def clf(t: datetime, ip: str, user: str, path: str, status: int = 200, ua: str = "") -> str:
    stamp = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
    ua = ua or "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/118.0 Safari/537.36"
    ref = f"https://wiki.{DOMAIN}/"
    return f'{ip} - {user} [{stamp}] "GET {path} HTTP/1.1" {status} {RNG.randrange(900, 40000)} "{ref}" "{ua}"'


def wiki_access() -> list[str]:
    out: list[tuple[datetime, str]] = []
    for day in days():
        for n, person in enumerate(PEOPLE):
            for _ in range(2):
                t = at(day, 9 + RNG.random() * 8)
                page = f"/pages/viewpage.action?pageId={RNG.randrange(100000, 999999)}"
                out.append((t, clf(t, f"10.20.0.{20 + n}", person, page)))
    # Nov 15: the attacker, as the Smartsheet account, searches the wiki for secrets and reads
    # 202 pages.
    t = datetime(2023, 11, 15, 9, 12, tzinfo=UTC)
    ua = "python-requests/2.31.0"
    words = ["secret", "token", "client-secret", "cloudflared", "password", "secret+key",
             "api_key", "credential"]  # fmt: skip
    for n, word in enumerate(words):
        tt = t + timedelta(minutes=4 * n)
        out.append((tt, clf(tt, ATTACKER, SVC, f"/dosearchsite.action?queryString={word}", ua=ua)))
    for n in range(202):
        tt = t + timedelta(minutes=40, seconds=17 * n)
        page = f"/pages/viewpage.action?pageId={200000 + n * 37}"
        out.append((tt, clf(tt, ATTACKER, SVC, page, ua=ua)))
    return [line for _, line in sorted(out)]


# -- sshd (rsyslog with RFC 3339 timestamps) --------------------------------------------------
def auth_log() -> list[str]:
    out: list[tuple[datetime, str]] = []

    def line(t: datetime, host: str, msg: str) -> None:
        pid = RNG.randrange(1000, 65000)
        out.append((t, f"{t.isoformat(timespec='microseconds')} {host} sshd[{pid}]: {msg}"))

    for day in days():
        for h in (1, 13):
            port = RNG.randrange(30000, 60000)
            line(at(day, h), "jump01", f"Accepted publickey for deploy from 10.20.0.8 port {port} ssh2: ED25519 {DEPLOY_FP}")  # fmt: skip
        scanner = RNG.choice(SCANNERS)
        port = RNG.randrange(30000, 60000)
        line(at(day, 20), "jump01", f"Invalid user admin from {scanner} port {port}")
        line(at(day, 20.01), "jump01", f"Failed password for invalid user admin from {scanner} port {port} ssh2")  # fmt: skip
    # Nov 22: a console server in a data center not yet live refuses the attacker.
    t = datetime(2023, 11, 22, 15, 20, tzinfo=UTC)
    for n in range(3):
        line(t + timedelta(seconds=9 * n), "gru-console01",
             f"Failed publickey for root from {ATTACKER} port {41822 + n} ssh2: ED25519 {ATTACKER_FP}")  # fmt: skip
    return [text for _, text in sorted(out)]


# -- the HAR the admin gave "Okta support" ---------------------------------------------------
def har() -> dict[str, Any]:
    base = datetime(2023, 10, 18, 13, 58, tzinfo=UTC)
    host = "https://corp-admin.okta.com"
    cookies = {"sid": SID_COOKIE, "DT": DT_COOKIE, "JSESSIONID": JSESSIONID,
               "_ga": "GA1.2.1384950214.1697637480", "ln": f"{ADMIN}@{DOMAIN}"}  # fmt: skip

    def entry(n: int, method: str, url: str, headers: list[tuple[str, str]], status: int,
              mime: str, body: str, set_cookie: str = "") -> dict[str, Any]:  # fmt: skip
        resp_headers = [{"name": "Content-Type", "value": mime}]
        if set_cookie:
            resp_headers.append({"name": "Set-Cookie", "value": set_cookie})
        return {
            "startedDateTime": iso(base + timedelta(seconds=23 * n)),
            "time": 120 + n,
            "request": {"method": method, "url": url, "httpVersion": "HTTP/2",
                        "headers": [{"name": k, "value": v} for k, v in headers],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": status, "statusText": "OK", "httpVersion": "HTTP/2",
                         "headers": resp_headers, "cookies": [],
                         "content": {"size": len(body), "mimeType": mime, "text": body},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
            "cache": {}, "timings": {"send": 1, "wait": 100 + n, "receive": 5},
        }  # fmt: skip

    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    ua = (
        "User-Agent",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/118.0 Safari/537.36",
    )
    users = json.dumps([{"id": "00u" + uid(p, 17), "status": "ACTIVE",
                         "profile": {"login": f"{p}@{DOMAIN}"}} for p in PEOPLE])  # fmt: skip
    page = f'<html><body><span id="_xsrfToken">{XSRF}</span>Admin Dashboard</body></html>'
    entries = [
        entry(0, "GET", f"{host}/admin/dashboard", [("Cookie", cookie), ua], 200, "text/html", page),
        entry(1, "GET", f"{host}/api/v1/users?limit=20",
              [("Authorization", f"SSWS {API_TOKEN}"), ("Accept", "application/json"), ua],
              200, "application/json", users),
        entry(2, "POST", f"{host}/api/v1/sessions/me/lifecycle/refresh",
              [("Cookie", cookie), ("X-Okta-XsrfToken", XSRF), ua], 200, "application/json",
              json.dumps({"id": SESSION_ID, "status": "ACTIVE", "login": f"{ADMIN}@{DOMAIN}"}),
              set_cookie=f"sid={SID_COOKIE}; Path=/; Secure; HttpOnly"),
        entry(3, "GET", f"{host}/admin/apps/active", [("Cookie", cookie), ua], 200, "text/html",
              "<html><body>Applications</body></html>"),
    ]  # fmt: skip
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "pages": [], "entries": entries}}  # fmt: skip


# -- the inventory: what the team believed on Oct 20 -----------------------------------------
INVENTORY_HEADER = ("id,provider,kind,identifier,name,owner,consumers,privilege,created,"
                    "last_rotated,tags,claimed_status,claimed_by,claimed_at,secret")  # fmt: skip


def inventory() -> list[str]:
    claim = "unused,integrations-team,2023-10-20"
    rows = [
        f"moveworks-token,cloudflare,service_token,{MOVEWORKS_TOKEN},Moveworks service token,it-integrations,moveworks,gateway remote access,2022-03-01,,prod;remote-access,{claim},",
        f"smartsheet-svc,atlassian,service_account,{SVC},Smartsheet service account,it-integrations,smartsheet,jira-admin,2021-05-01,,prod;jira,{claim},",
        f"bitbucket-svc,bitbucket,service_account,{BB_SVC},Bitbucket service account,dev-tools,build,source-read,2020-11-12,,prod;bitbucket,unused,dev-tools,2023-10-20,",
        f"aws-probe-key,aws,access_key,{AWS_KEY},AWS inventory-sync key,platform,inventory-sync,ec2-read,2022-08-30,,prod;aws,unused,platform,2023-10-20,",
        f"okta-admin-token,okta,api_token,{TOKEN_ID},Okta admin API token (SCIM sync),identity,scim-sync,org-admin,2023-01-09,2023-10-18,prod;okta,,,,{API_TOKEN}",
        f"okta-admin-session,okta,session,{SESSION_ID},Okta admin session of {ADMIN},identity,,org-admin,2023-10-18,,okta;har,,,,{SID_COOKIE}",
        f"deploy-key,ssh,ssh_key,{DEPLOY_FP},jump-host deploy key,sre,deploy,shell on jump01,2021-09-15,,prod;ssh,,,,",
        f"legacy-jump-key,ssh,ssh_key,{LEGACY_FP},old jump-host key,sre,,shell on jump01,2019-02-11,,prod;ssh,,,,",
        "billing-db-role,postgres,db_role,billing_rw,Billing DB role,payments,billing-api,read-write,2019-04-02,2023-06-01,prod;db,,,,",
        "wiki-export-svc,confluence,service_account,wiki-export-svc,wiki export service account,it-integrations,backup,space-export,2022-06-01,,prod;wiki,,,,",
        "ci-deploy-key,aws,access_key,AKIA4EXAMPLECIDEPLOY,CI deploy key,dev-tools,ci,ec2-deploy,2023-02-01,,ci;aws,,,,",
    ]  # fmt: skip
    return [INVENTORY_HEADER, *rows]


IOCS = """\
Indicators published by Cloudflare (blog.cloudflare.com/thanksgiving-2023-security-incident),
pasted as they appear there:

| indicator | type | note |
|---|---|---|
| 193.142.58[.]126 | IPv4 | primary actor infrastructure (M247, Bucharest) |
| 198.244.174[.]214 | IPv4 | Sliver C2 (OVH, London) |
| idowall[.]com | domain | served the Sliver payload |
| jvm-agent, sha256 bdd1a085d651082ad567b03e5186d1d46d822bb7794157ab8cce95d850a3caaf | file | Sliver payload |
"""


def _ndjson(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


def write(root: Path = HERE) -> list[Path]:
    """Write every file under root; returns them."""
    files = {
        "logs/okta/system-log.ndjson": _ndjson(okta_log()),
        "logs/aws/cloudtrail-111122223333.json": json.dumps(cloudtrail(), separators=(",", ":")),
        "logs/atlassian/jira-audit.log": _ndjson(jira_log()),
        "logs/atlassian/confluence-audit.log": _ndjson(confluence_log()),
        "logs/atlassian/bitbucket-audit.log": _ndjson(bitbucket_log()),
        "logs/cloudflare/access-requests.ndjson": _ndjson(access_log()),
        "logs/web/wiki-access.log": "\n".join(wiki_access()) + "\n",
        "logs/ssh/auth.log": "\n".join(auth_log()) + "\n",
        "har/okta-support-case.har": json.dumps(har(), indent=1),
        "inventory.csv": "\n".join(inventory()) + "\n",
        "iocs.txt": IOCS,
    }
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# The values the demo's canary check looks for: none may appear in any output or workspace.
PLANTED_SECRETS = (SID_COOKIE, API_TOKEN, DT_COOKIE, JSESSIONID, XSRF)


if __name__ == "__main__":
    for p in write():
        print(f"{p.stat().st_size:>9,}  {p.relative_to(HERE)}")
