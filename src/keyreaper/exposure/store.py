"""Exposures in the state store: saving an intake in one transaction, matching items to the
inventory (by fingerprint under any key version, or by identifier), and reading them back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from keyreaper.domain import Exposure
from keyreaper.exposure.intake import FileResult, Item
from keyreaper.store import Database, Row
from keyreaper.store.audit import record

_UPSERT_ITEM = """
INSERT INTO exposure_items (exposure, item_key, kind, fingerprint, key_version, hint, identifier,
    credential_id, evidence, seen_at, occurrences, source)
VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)
ON CONFLICT (exposure, item_key) DO UPDATE SET
    occurrences = exposure_items.occurrences + excluded.occurrences,
    identifier = CASE WHEN exposure_items.identifier = '' THEN excluded.identifier
                      ELSE exposure_items.identifier END
"""


def get(db: Database, name: str) -> Exposure | None:
    rows = db.query("SELECT * FROM exposures WHERE name = ?", (name,))
    if not rows:
        return None
    r = rows[0]
    return Exposure(
        name=r["name"],
        t0=datetime.fromisoformat(r["t0"]) if r["t0"] else None,
        t0_source=r["t0_source"],
        description=r["description"],
        created_at=datetime.fromisoformat(r["created_at"]),
    )


def save(
    db: Database,
    name: str,
    t0: datetime | None,
    t0_source: str,
    items: Sequence[Item],
    files: Sequence[FileResult],
    description: str = "",
) -> None:
    """Creates or extends the exposure, its items and file records, atomically, with an
    audit line in the same transaction."""
    now = datetime.now(UTC).isoformat()
    with db.transaction():
        record(
            db,
            "exposure.add",
            subject=name,
            outcome="ok",
            detail=f"files={len(files)} items={len(items)} t0={t0.isoformat() if t0 else ''}",
        )
        db.execute(
            "INSERT INTO exposures (name, t0, t0_source, description, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET t0 = excluded.t0, t0_source = excluded.t0_source,"
            " description = CASE WHEN excluded.description = '' THEN exposures.description"
            " ELSE excluded.description END",
            (name, t0.isoformat() if t0 else None, t0_source, description, now),
        )
        rows = []
        fps: list[tuple[str, str, str, int]] = []
        for it in items:
            cur = it.current
            rows.append(
                (
                    name,
                    it.key,
                    it.kind,
                    cur.value if cur else None,
                    cur.key_version if cur else None,
                    cur.hint if cur else "",
                    it.identifier,
                    json.dumps(it.evidence, sort_keys=True),
                    it.seen_at.isoformat() if it.seen_at else None,
                    it.occurrences,
                    str(it.evidence.get("file", "")),
                )
            )
            fps.extend((name, it.key, f.value, f.key_version) for f in it.fingerprints)
        db.executemany(_UPSERT_ITEM, rows)
        db.executemany(
            "INSERT INTO exposure_item_fingerprints (exposure, item_key, fingerprint, key_version)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            fps,
        )
        db.executemany(
            "INSERT INTO exposure_files (exposure, path, file_type, status, detail, items,"
            " occurrences, earliest, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    name,
                    f.path,
                    f.file_type,
                    f.status,
                    f.detail[:1000],
                    len(f.items),
                    f.occurrences,
                    f.earliest.isoformat() if f.earliest else None,
                    now,
                )
                for f in files
                if f.status != "rejected"
            ],
        )
        rematch(db, name)


_MATCHES = """
SELECT f.item_key, cf.credential_id, 'fingerprint' AS how
  FROM exposure_item_fingerprints f JOIN credential_fingerprints cf ON cf.fingerprint = f.fingerprint
 WHERE f.exposure = ?
UNION
SELECT i.item_key, ci.credential_id, 'identifier' AS how
  FROM exposure_items i JOIN credential_identifiers ci ON ci.identifier = i.identifier
 WHERE i.exposure = ? AND i.identifier <> ''
"""


def matches(db: Database, name: str) -> dict[str, list[tuple[str, str]]]:
    """item_key -> [(credential_id, 'fingerprint'|'identifier')], fresh from the inventory."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in db.query(_MATCHES + " ORDER BY 1, 2, 3", (name, name)):
        pair = (r["credential_id"], r["how"])
        if pair not in out.setdefault(r["item_key"], []):
            out[r["item_key"]].append(pair)
    return out


def rematch(db: Database, name: str) -> int:
    """Refreshes exposure_items.credential_id (the first match) for other components."""
    found = matches(db, name)
    with db.transaction():
        db.execute("UPDATE exposure_items SET credential_id = NULL WHERE exposure = ?", (name,))
        db.executemany(
            "UPDATE exposure_items SET credential_id = ? WHERE exposure = ? AND item_key = ?",
            [(pairs[0][0], name, key) for key, pairs in found.items()],
        )
    return len(found)


def list_exposures(db: Database) -> list[dict[str, Any]]:
    out = []
    for r in db.query("SELECT * FROM exposures ORDER BY created_at, name"):
        name = r["name"]
        found = matches(db, name)
        n = db.query("SELECT COUNT(*) AS n FROM exposure_items WHERE exposure = ?", (name,))[0]["n"]
        files = db.query("SELECT COUNT(*) AS n FROM exposure_files WHERE exposure = ?", (name,))[0][
            "n"
        ]
        creds = {c for pairs in found.values() for c, _ in pairs}
        out.append(
            {
                "name": name,
                "t0": r["t0"],
                "t0_source": r["t0_source"],
                "files": int(files),
                "items": int(n),
                "matched_items": len(found),
                "orphans": int(n) - len(found),
                "credentials": len(creds),
                "created_at": r["created_at"],
            }
        )
    return out


def items(db: Database, name: str) -> list[dict[str, Any]]:
    found = matches(db, name)
    out = []
    for r in db.query(
        "SELECT * FROM exposure_items WHERE exposure = ? ORDER BY kind, hint, item_key", (name,)
    ):
        pairs = found.get(r["item_key"], [])
        out.append(
            {
                "item_key": r["item_key"],
                "kind": r["kind"],
                "hint": r["hint"],
                "fingerprint": (
                    f"hmac-sha256:v{r['key_version']}:{r['fingerprint']}"
                    if r["fingerprint"]
                    else None
                ),
                "identifier": r["identifier"],
                "credentials": sorted({c for c, _ in pairs}),
                "matched_by": sorted({h for _, h in pairs}),
                "orphan": not pairs,
                "occurrences": int(r["occurrences"]),
                "seen_at": r["seen_at"],
                "evidence": json.loads(r["evidence"] or "{}"),
            }
        )
    return out


def has_file(db: Database, name: str, path: str, items: int, occurrences: int) -> bool:
    """The same file with the same findings is already part of the exposure."""
    return bool(
        db.query(
            "SELECT 1 FROM exposure_files WHERE exposure = ? AND path = ? AND items = ?"
            " AND occurrences = ?",
            (name, path, items, occurrences),
        )
    )


def files(db: Database, name: str) -> list[Row]:
    return db.query(
        "SELECT path, file_type, status, detail, items, occurrences, earliest, added_at"
        " FROM exposure_files WHERE exposure = ? ORDER BY added_at, path",
        (name,),
    )


def exposed_credentials(db: Database, name: str) -> dict[str, list[str]]:
    """credential_id -> item kinds through which it was exposed."""
    kinds = {
        r["item_key"]: r["kind"]
        for r in db.query("SELECT item_key, kind FROM exposure_items WHERE exposure = ?", (name,))
    }
    out: dict[str, list[str]] = {}
    for key, pairs in matches(db, name).items():
        for cred, _ in pairs:
            if kinds.get(key) and kinds[key] not in out.setdefault(cred, []):
                out[cred].append(kinds[key])
    return out
