"""Inventory and event helpers for the usage tests."""

from __future__ import annotations

from keyreaper.domain import Claim, Credential
from keyreaper.inventory import repo
from keyreaper.workspace import Workspace


def cred(provider: str, kind: str, ident: str, claim: str = "", **extra: object) -> Credential:
    return Credential(
        id=Credential.make_id(provider, kind, ident),
        provider=provider,
        kind=kind,
        identifiers=(ident,),
        name=ident,
        claim=Claim(claim, "ops@example.test", "2026-01-01") if claim else None,
        extra=dict(extra),
    )


def load(ws: Workspace, creds: list[Credential]) -> None:
    repo.upsert(ws.db, creds, source="test")
