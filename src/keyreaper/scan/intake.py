"""--into-workspace: findings become an exposure (T0 = the earliest commit, page or file date
seen) with one item per distinct secret; secrets the inventory does not know become orphan
credentials tagged `orphan`, which someone must own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from keyreaper.domain import Credential, Fingerprint
from keyreaper.inventory import repo
from keyreaper.scan.findings import ScanFinding
from keyreaper.store import audit
from keyreaper.workspace import Workspace


def credential_kind(rule: str, provider: str) -> str:
    """The inventory's kind for a rule's secret (domain.model KINDS)."""
    table = [
        (
            ("aws-secret", "aws-session", "storage-account", "spaces-key", "shared-access"),
            "access_key",
        ),
        (("private-key-openssh", "private-key-putty"), "ssh_key"),
        (("private-key",), "certificate"),
        (("webhook",), "webhook_secret"),
        (("client-secret", "oauth-app-secret", "oauth-secret"), "oauth_client"),
        (("session", "cookie"), "session"),
        (("service-account",), "service_account"),
        (("service-token", "access-client"), "service_token"),
        (("password", "-url", "netrc", "connection-string", "basic-auth"), "password"),
    ]
    for needles, kind in table:
        if any(n in rule for n in needles):
            return "db_role" if kind == "password" and provider == "database" else kind
    return "api_token"


def record(
    ws: Workspace, name: str, findings: Sequence[ScanFinding], description: str
) -> dict[str, int]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    secrets = [f for f in findings if f.kind != "identifier"]
    dates = sorted(f.date for f in secrets if f.date)
    t0 = dates[0] if dates else None
    matched = orphans = 0
    items = []
    new_orphans: list[Credential] = []
    first: dict[str, ScanFinding] = {}
    for f in secrets:
        if f.fingerprint not in first or (f.date and f.date < (first[f.fingerprint].date or "~")):
            first[f.fingerprint] = f
    for fp_value, f in first.items():
        creds = repo.by_fingerprints(ws.db, [fp_value])
        if not creds and f.identifier:
            creds = repo.by_identifier(ws.db, f.identifier)
        if creds:
            cred_id = str(creds[0]["id"])
            matched += 1
        else:
            cred_id = "orphan-" + hashlib.sha256(fp_value.encode()).hexdigest()[:16]
            orphans += 1
            new_orphans.append(
                Credential(
                    id=cred_id, provider=f.provider, kind=credential_kind(f.rule, f.provider),
                    identifiers=(f.identifier,) if f.identifier else (cred_id,),
                    name=f"{f.title} found by scan", tags=("orphan",),
                    fingerprints=(Fingerprint(fp_value, f.key_version, f.hint),),
                    extra={"found_at": f.location, "exposure": name, "rule": f.rule},
                )
            )  # fmt: skip
        evidence = {"rule": f.rule, "location": f.location, "line": f.line, "label": f.label,
                    "commit": f.commit, "encodings": f.encodings}  # fmt: skip
        items.append((name, fp_value[:32], f.rule, fp_value, f.key_version, f.hint, f.identifier,
                      cred_id, json.dumps(evidence, sort_keys=True), f.date or None))  # fmt: skip
    if new_orphans:
        repo.upsert(ws.db, new_orphans, source=f"scan:{name}")
    with ws.db.transaction():
        ws.db.execute(
            "INSERT INTO exposures (name, t0, t0_source, description, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " t0 = excluded.t0, t0_source = excluded.t0_source, description = excluded.description",
            (name, t0, "scan: earliest commit/page/file date" if t0 else "", description, now),
        )
        ws.db.executemany(
            "INSERT INTO exposure_items (exposure, item_key, kind, fingerprint, key_version, hint,"
            " identifier, credential_id, evidence, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (exposure, item_key) DO UPDATE SET evidence = excluded.evidence,"
            " credential_id = excluded.credential_id, seen_at = excluded.seen_at",
            items,
        )
    audit.record(ws.db, "scan.into_workspace", subject=name, outcome="ok",
                 detail=f"{len(items)} items, {matched} matched, {orphans} orphans")  # fmt: skip
    return {"items": len(items), "matched": matched, "orphans": orphans}
