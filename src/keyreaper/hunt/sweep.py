"""Persistence sweep: everything a principal created or changed since T0, across sources —
users, group and role grants, tokens, keys, OAuth apps, plugins — each with its evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from keyreaper.hunt.scope import time_window
from keyreaper.hunt.store import EVENT_HIT_COLUMNS, Hit

# Checked in order: the first class whose pattern matches the lower-cased event type wins.
CLASSES = (
    # Removals first, so "membership remove" or "token revoke" is not read as a grant.
    ("removal", r"remov|delet|revok|deactivat|disabl|suspend|uninstall"),
    ("plugin", r"plugin|app installed|app enabled|add-on|marketplace"),
    ("token", r"api_token|access.?token|personal_access_token|createaccesskey|token (created|generated)|oauth_access|createservicespecificcredential"),
    ("key", r"public_key|ssh.*key|deploy_key|uploadsshpublickey|createloginprofile|gpg key|signing key"),
    ("oauth_app", r"oauth|integration_installation|application\.lifecycle\.create|app\.oauth2|authorize_api_client"),
    ("user", r"user\.lifecycle\.(create|activate)|user created|createuser|create_user|user\.create|org\.add_member|invite_member"),
    ("group_grant", r"membership|added to (user )?group|addusertogroup|add_member|add_user|group\.user_membership\.add"),
    ("role_grant", r"privilege\.grant|assign_role|attach\w*policy|put\w*policy|permission (added|granted)|update_member|promote|add_admin|createrole|assumerole"),
    # Other changes only where they touch access: not every ticket or page edit.
    ("change", r"(create|add|update|grant|enable|attach|put|modify|change|set|reset|delete|remove|disable|revoke)\w*[ ._-]?\w*[ ._-]?(permission|polic|role|group|factor|mfa|password|hook|secret|setting|config|trust|federation|idp|sso|saml|scope|admin|member|user|credential|key|token)|(permission|polic|role|group|factor|mfa|password|hook|secret|setting|config|trust|federation|idp|saml|scope|admin|member|credential)\w*[ ._-]?\w*[ ._-]?(create|add|update|grant|enable|attach|put|modify|change|set|reset)"),
)  # fmt: skip


def classify_sql() -> str:
    parts = " ".join(
        f"WHEN regexp_matches(lower(event_type), '{rx}') THEN '{name}'" for name, rx in CLASSES
    )
    return f"CASE {parts} END"


def sweep(
    con: duckdb.DuckDBPyConnection,
    principals: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Hit]:
    """Changes made by any of the names (actor id/name, its local part, or credential id)."""
    names = sorted({p.strip().lower() for p in principals if p.strip()})
    if not names:
        return []
    marks = ", ".join("?" for _ in names)
    where = [
        f"(lower(actor_name) IN ({marks}) OR lower(actor_id) IN ({marks})"
        f" OR lower(credential_id) IN ({marks}) OR split_part(lower(actor_name), '@', 1) IN ({marks}))"
    ]
    window, window_params = time_window(since, until)
    where += window
    params: list[object] = [*names, *names, *names, *names, *window_params]
    rows = con.execute(
        f"SELECT * FROM (SELECT {EVENT_HIT_COLUMNS},"
        f" target_type, origin, {classify_sql()} AS what"
        f" FROM events WHERE {' AND '.join(where)}) WHERE what IS NOT NULL ORDER BY time",
        params,
    ).fetchall()
    label = names[0]
    hits = []
    for r in rows:
        ttype, origin, what = r[9], r[10], r[11]
        detail = {"what": what, "target_type": ttype or ""}
        hits.append(Hit.from_event("sweep", f"sweep:{label}", f"{what}: {r[2]}", r, origin, detail))
    return hits
