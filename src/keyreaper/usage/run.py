"""Compute, store and return attestations for the workspace's credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from keyreaper.domain import Attestation, Credential
from keyreaper.errors import KeyreaperError
from keyreaper.events.store import EventStore
from keyreaper.inventory import repo
from keyreaper.usage import store as attestations
from keyreaper.usage.asn import AsnLookup
from keyreaper.usage.attest import Settings, attest
from keyreaper.usage.coverage import coverage
from keyreaper.usage.lastuse import last_use, links_for
from keyreaper.workspace import Workspace


@dataclass(frozen=True)
class Request:
    credential: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    save: bool = True


def compute(ws: Workspace, request: Request) -> tuple[list[Credential], list[Attestation]]:
    now = datetime.now(UTC)
    until = request.until or now
    since = request.since or until - timedelta(days=int(ws.config.get("usage.window_days")))
    if since > until:
        raise KeyreaperError(f"--since {since.date()} is after --until {until.date()}")
    settings = Settings(
        since=since,
        until=until,
        stale_days=int(ws.config.get("usage.stale_days")),
        new_source_days=int(ws.config.get("usage.new_source_days")),
    )
    if request.credential:
        one = repo.get(ws.db, request.credential)
        if one is None:
            raise KeyreaperError(f"no credential {request.credential!r} in the inventory")
        creds = [one]
    else:
        creds = repo.list_credentials(ws.db)
    wanted = {c.id for c in creds}
    idmap = {
        ident: [c for c in ids if c in wanted]
        for ident, ids in repo.identifier_map(ws.db).items()
        if any(c in wanted for c in ids)
    }
    kinds = {c.id: c.kind for c in creds}
    store = EventStore(ws.events_dir)
    links = links_for(idmap, kinds, store)
    recent = until - timedelta(days=settings.new_source_days)
    uses = last_use(store, links, since, until, recent)
    db_path = str(ws.config.get("usage.geoip_asn_db"))
    asn_path = Path(db_path).expanduser() if db_path else None
    if asn_path is not None and not asn_path.is_absolute():
        asn_path = ws.root / asn_path
    asn = AsnLookup(asn_path) if asn_path else None
    try:
        result = attest(creds, uses, coverage(store), settings, now, asn)
    finally:
        if asn is not None:
            asn.close()
    if request.save:
        attestations.save(ws.db, result)
    return creds, result
