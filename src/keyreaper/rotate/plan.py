"""The planner: which credentials a campaign covers and what it does to each.

rotate   the credential is (or may be) used: replace it, then kill the old one
revoke   exposed and proven NOT_SEEN by a usage attestation: unused means free to kill
blocked  no provider can act; the reason names what is missing
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from keyreaper.domain import Attestation, Credential, ItemAction, UsageVerdict
from keyreaper.errors import InputError, KeyreaperError, Location
from keyreaper.inventory import repo
from keyreaper.rotate.targets import load_class, provider_classes
from keyreaper.store import Database
from keyreaper.store.audit import record
from keyreaper.usage.store import latest_all

SELECT_KEYS = ("provider", "kind", "owner", "tag", "id")
UNUSED_CLAIMS = ("unused", "not used", "not_used", "inactive", "decommissioned", "dormant")


@dataclass(frozen=True)
class Decision:
    credential_id: str
    provider: str
    kind: str
    action: ItemAction
    reason: str
    usage: str
    exposures: tuple[str, ...]


def parse_select(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not value.strip():
            raise InputError(Location("--select"), f"{part!r}: expected key=value")
        if key not in SELECT_KEYS:
            raise InputError(
                Location("--select"), f"unknown key {key!r} (known: {', '.join(SELECT_KEYS)})"
            )
        out[key] = value.strip()
    if not out:
        raise InputError(Location("--select"), "empty selection")
    return out


def _matches(c: Credential, sel: dict[str, str]) -> bool:
    for key, value in sel.items():
        if key == "tag":
            if value not in c.tags:
                return False
        elif str(getattr(c, key)) != value:
            return False
    return True


def _exposed(
    db: Database, exposure: str | None
) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    """credential id -> exposures naming it, and the exposed items matching no credential."""
    where, params = (" WHERE exposure = ?", (exposure,)) if exposure else ("", ())
    if exposure and not db.query("SELECT name FROM exposures WHERE name = ?", (exposure,)):
        raise KeyreaperError(f"no exposure named {exposure!r}")
    by_cred: dict[str, list[str]] = {}
    orphans: list[dict[str, str]] = []
    for r in db.query(
        f"SELECT exposure, item_key, kind, hint, identifier, credential_id FROM exposure_items{where}"
        " ORDER BY exposure, item_key",
        params,
    ):
        if r["credential_id"]:
            names = by_cred.setdefault(r["credential_id"], [])
            if r["exposure"] not in names:
                names.append(r["exposure"])
        else:
            orphans.append(r)
    return by_cred, orphans


def _blocker(c: Credential, classes: dict[str, str]) -> str | None:
    if c.provider not in classes:
        return (
            f"no provider named {c.provider!r} (known: {', '.join(sorted(classes))}); "
            "use the command provider or install a plugin"
        )
    try:
        cls = load_class(classes[c.provider])
    except KeyreaperError as exc:
        return f"provider {c.provider} cannot load: {exc}"
    except (ImportError, AttributeError) as exc:
        return f"provider {c.provider} cannot load: {exc}"
    kinds = getattr(cls, "kinds", ())
    if kinds and c.kind not in kinds:
        return f"provider {c.provider} does not handle kind {c.kind} (handles: {', '.join(kinds)})"
    return None


def _window(a: Attestation) -> str:
    sources = ", ".join(a.sources_searched) or "no sources named"
    return f"{a.window_start.date()}..{a.window_end.date()} over {sources} (computed {a.computed_at.isoformat()})"


def decide(
    c: Credential, exposures: list[str], att: Attestation | None, classes: dict[str, str]
) -> Decision:
    verdict = att.verdict if att else UsageVerdict.UNKNOWN
    usage = verdict.value if att else "UNKNOWN (no attestation)"
    blocker = _blocker(c, classes)
    claim = c.claim.status.lower() if c.claim else ""
    if blocker:
        action, reason = ItemAction.BLOCKED, blocker
    elif c.kind == "session":
        action, reason = ItemAction.REVOKE, "a session is ended, never replaced"
    elif exposures and att is not None and verdict is UsageVerdict.NOT_SEEN:
        action = ItemAction.REVOKE
        reason = f"exposed, NOT_SEEN {_window(att)}: unused means free to kill"
    elif att is not None and verdict is UsageVerdict.USED:
        action = ItemAction.ROTATE
        last = att.last_use.isoformat() if att.last_use else "?"
        reason = f"used: {att.use_count} use(s), last {last}"
        if claim in UNUSED_CLAIMS:
            who = c.claim.claimant if c.claim and c.claim.claimant else "someone"
            reason = f"CLAIMED {claim.upper()} by {who} BUT USED in the logs — {reason}"
    else:
        action = ItemAction.ROTATE
        gaps = f"; gaps: {', '.join(att.gaps)}" if att and att.gaps else ""
        reason = f"usage {usage}{gaps}: rotate, nothing is decided on belief"
    if exposures and action is not ItemAction.BLOCKED:
        reason = f"exposed in {', '.join(exposures)}; {reason}"
    return Decision(c.id, c.provider, c.kind, action, reason, usage, tuple(exposures))


def plan(
    db: Database,
    name: str,
    *,
    exposure: str | None = None,
    all_exposed: bool = False,
    select: str | None = None,
    everything: bool = False,
) -> list[Decision]:
    """Write (or extend) the plan of campaign `name`. Items already under way keep their
    progress; items not started get the newest decision."""
    chosen = [x for x in (exposure is not None, all_exposed, select is not None, everything) if x]
    if len(chosen) != 1:
        raise KeyreaperError("choose exactly one of --exposure, --all-exposed, --select, --all")
    selector = (
        f"exposure={exposure}" if exposure else "all-exposed" if all_exposed
        else f"select:{select}" if select else "all"
    )  # fmt: skip
    creds = repo.list_credentials(db)
    exposed, orphans = _exposed(db, exposure) if (exposure or all_exposed) else ({}, [])
    if exposure or all_exposed:
        creds = [c for c in creds if c.id in exposed]
    elif select is not None:
        sel = parse_select(select)
        creds = [c for c in creds if _matches(c, sel)]
    attestations = latest_all(db)
    classes = provider_classes()
    decisions = [decide(c, exposed.get(c.id, []), attestations.get(c.id), classes) for c in creds]
    for o in orphans:
        decisions.append(
            Decision(
                f"unmatched:{o['exposure']}:{o['item_key']}", "", o["kind"], ItemAction.BLOCKED,
                f"exposed {o['kind']} {o['hint'] or o['identifier']} matches no credential in the "
                "inventory: import its owner's credential, then plan again", "", (o["exposure"],),
            )
        )  # fmt: skip
    _write(db, name, selector, decisions)
    return decisions


def _write(db: Database, name: str, selector: str, decisions: list[Decision]) -> None:
    stamp = datetime.now(UTC).isoformat()
    rows = [
        (
            name, d.credential_id, d.provider, d.kind, d.action.value, d.reason, d.usage,
            json.dumps(list(d.exposures)), "blocked" if d.action is ItemAction.BLOCKED else "pending",
            stamp,
        )
        for d in decisions
    ]  # fmt: skip
    counts = {a.value: sum(1 for d in decisions if d.action is a) for a in ItemAction}
    with db.transaction():
        record(
            db,
            "campaign.plan",
            subject=name,
            outcome="planned",
            detail=f"{selector}: {json.dumps(counts)}",
        )
        db.execute(
            "INSERT INTO campaigns (name, selector, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET selector = excluded.selector, updated_at = excluded.updated_at",
            (name, selector, stamp, stamp),
        )
        # Only items not yet started take the new decision; progress is never thrown away.
        db.executemany(
            "INSERT INTO campaign_items (campaign, credential_id, provider, kind, action, reason,"
            " usage, exposures, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (campaign, credential_id) DO UPDATE SET action = excluded.action,"
            " reason = excluded.reason, usage = excluded.usage, exposures = excluded.exposures,"
            " state = excluded.state, updated_at = excluded.updated_at"
            " WHERE campaign_items.started_at = '' AND campaign_items.state IN ('pending', 'blocked')",
            rows,
        )
