"""Credentials in the state store: upsert (re-import updates, never duplicates) and queries."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keyreaper.domain import Claim, Credential, Fingerprint
from keyreaper.store import Database, Row

_UPSERT = """
INSERT INTO credentials (id, provider, kind, name, owner, consumers, privilege, created,
    last_rotated, expires, tags, claimed_status, claimed_by, claimed_at, extra, source,
    first_seen, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    provider = excluded.provider, kind = excluded.kind, name = excluded.name,
    owner = excluded.owner, consumers = excluded.consumers, privilege = excluded.privilege,
    created = excluded.created, last_rotated = excluded.last_rotated,
    expires = excluded.expires, tags = excluded.tags,
    claimed_status = excluded.claimed_status, claimed_by = excluded.claimed_by,
    claimed_at = excluded.claimed_at, extra = excluded.extra, source = excluded.source,
    updated_at = excluded.updated_at
"""


@dataclass(frozen=True)
class Filters:
    provider: str | None = None
    kind: str | None = None
    owner: str | None = None
    tag: str | None = None


def upsert(
    db: Database, creds: Sequence[Credential], source: str, existing: set[str] | None = None
) -> None:
    """Insert or update credentials with their identifiers and fingerprints, in one go.

    `existing` (ids already stored), when the caller knows it, spares a delete per new row."""
    now = datetime.now(UTC).isoformat()
    rows = []
    idents: list[tuple[str, str]] = []
    fps: list[tuple[str, str, int, str, str]] = []

    # Key order keeps every B-tree insert at the right edge: a bulk import of 100k rows into
    # id-keyed tables costs about half as much sorted as in file order.
    for c in sorted(creds, key=lambda c: c.id):
        claim = c.claim or Claim("")
        rows.append(
            (
                c.id,
                c.provider,
                c.kind,
                c.name,
                c.owner,
                _json_list(c.consumers),
                c.privilege,
                c.created,
                c.last_rotated,
                c.expires,
                _json_list(c.tags),
                claim.status,
                claim.claimant,
                claim.date,
                json.dumps(c.extra, sort_keys=True) if c.extra else "{}",
                source,
                now,
                now,
            )
        )
        idents.extend((c.id, i) for i in c.identifiers)
        fps.extend((c.id, f.value, f.key_version, f.hint, now) for f in c.fingerprints)
    with db.transaction():
        db.executemany(_UPSERT, rows)
        # Identifiers are replaced wholesale: the file is the truth for what it lists.
        stale = [(c.id,) for c in creds if existing is None or c.id in existing]
        if stale:
            db.executemany("DELETE FROM credential_identifiers WHERE credential_id = ?", stale)
        db.executemany(
            "INSERT INTO credential_identifiers (credential_id, identifier) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING",
            idents,
        )
        # Fingerprints accumulate: an old secret's fingerprint still matches old exposures.
        db.executemany(
            "INSERT INTO credential_fingerprints (credential_id, fingerprint, key_version, hint,"
            " added_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            fps,
        )


@functools.lru_cache(maxsize=1024)  # tag and consumer lists repeat across an inventory
def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values)) if values else "[]"


def _from_row(row: Row, idents: list[str], fps: list[Fingerprint]) -> Credential:
    claim = None
    if row["claimed_status"]:
        claim = Claim(row["claimed_status"], row["claimed_by"], row["claimed_at"])
    return Credential(
        id=row["id"],
        provider=row["provider"],
        kind=row["kind"],
        identifiers=tuple(idents) or (row["id"],),
        name=row["name"],
        owner=row["owner"],
        consumers=tuple(json.loads(row["consumers"])),
        privilege=row["privilege"],
        created=row["created"],
        last_rotated=row["last_rotated"],
        expires=row["expires"],
        tags=tuple(json.loads(row["tags"])),
        claim=claim,
        fingerprints=tuple(fps),
        extra=json.loads(row["extra"]),
    )


def _where(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("provider", "kind", "owner"):
        value = getattr(filters, column)
        if value:
            clauses.append(f"c.{column} = ?")
            params.append(value)
    if filters.tag:
        # tags is a JSON list of strings; match the quoted element exactly.
        clauses.append("c.tags LIKE ?")
        params.append(f"%{json.dumps(filters.tag)}%")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _hydrate(db: Database, rows: list[Row]) -> list[Credential]:
    if not rows:
        return []
    idents: dict[str, list[str]] = {}
    fps: dict[str, list[Fingerprint]] = {}
    for r in db.query("SELECT credential_id, identifier FROM credential_identifiers ORDER BY 1, 2"):
        idents.setdefault(r["credential_id"], []).append(r["identifier"])
    for r in db.query(
        "SELECT credential_id, fingerprint, key_version, hint FROM credential_fingerprints"
        " ORDER BY added_at"
    ):
        fps.setdefault(r["credential_id"], []).append(
            Fingerprint(r["fingerprint"], int(r["key_version"]), r["hint"])
        )
    return [_from_row(r, idents.get(r["id"], []), fps.get(r["id"], [])) for r in rows]


def list_credentials(db: Database, filters: Filters | None = None) -> list[Credential]:
    where, params = _where(filters or Filters())
    rows = db.query(f"SELECT * FROM credentials c{where} ORDER BY c.id", params)
    return _hydrate(db, rows)


def get(db: Database, credential_id: str) -> Credential | None:
    rows = db.query("SELECT * FROM credentials WHERE id = ?", (credential_id,))
    if not rows:
        return None
    idents = [
        r["identifier"]
        for r in db.query(
            "SELECT identifier FROM credential_identifiers WHERE credential_id = ? ORDER BY 1",
            (credential_id,),
        )
    ]
    fps = [
        Fingerprint(r["fingerprint"], int(r["key_version"]), r["hint"])
        for r in db.query(
            "SELECT fingerprint, key_version, hint FROM credential_fingerprints"
            " WHERE credential_id = ? ORDER BY added_at",
            (credential_id,),
        )
    ]
    return _from_row(rows[0], idents, fps)


def by_fingerprints(db: Database, values: Iterable[str]) -> list[Row]:
    """Credentials holding any of these fingerprint values."""
    values = list(values)
    if not values:
        return []
    marks = ", ".join("?" for _ in values)
    return db.query(
        "SELECT c.id, c.provider, c.kind, c.name, c.owner, f.key_version, f.hint"
        f" FROM credential_fingerprints f JOIN credentials c ON c.id = f.credential_id"
        f" WHERE f.fingerprint IN ({marks}) ORDER BY c.id",
        values,
    )


def by_identifier(db: Database, identifier: str) -> list[Row]:
    return db.query(
        "SELECT c.id, c.provider, c.kind, c.name, c.owner FROM credential_identifiers i"
        " JOIN credentials c ON c.id = i.credential_id WHERE i.identifier = ? ORDER BY c.id",
        (identifier,),
    )


def identifier_map(db: Database) -> dict[str, list[str]]:
    """identifier -> credential ids, for linking events and exposures in bulk."""
    out: dict[str, list[str]] = {}
    for credential_id, identifier in db.values(
        "SELECT credential_id, identifier FROM credential_identifiers"
    ):
        out.setdefault(identifier, []).append(credential_id)
    return out


def count(db: Database) -> int:
    return int(db.query("SELECT COUNT(*) AS n FROM credentials")[0]["n"])
