"""Small builders for exposure tests: HAR files, inventory credentials, events."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from keyreaper.domain import Credential, Secret
from keyreaper.events.schema import EVENT_SCHEMA
from keyreaper.events.store import EventStore
from keyreaper.inventory import repo
from keyreaper.workspace import Workspace


def har_entry(
    url: str = "https://app.example.com/api",
    headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
    started: str = "2023-10-18T12:00:00.000Z",
    response_headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "startedDateTime": started,
        "time": 10.0,
        "request": {
            "method": "GET",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": n, "value": v} for n, v in headers],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": n, "value": v} for n, v in response_headers],
            "cookies": [],
            "content": body or {"size": 0, "mimeType": "text/plain", "text": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
        },
        "cache": {},
        "timings": {"send": 1.0, "wait": 5.0, "receive": 1.0},
    }


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    doc = {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    }
    path.write_text(json.dumps(doc))
    return path


def add_credential(ws: Workspace, provider: str, kind: str, ident: str, secret: str | None) -> str:
    fps = tuple(ws.fingerprinter.all_versions(Secret(secret))) if secret else ()
    cred = Credential(
        id=Credential.make_id(provider, kind, ident),
        provider=provider,
        kind=kind,
        identifiers=(ident,),
        fingerprints=fps,
    )
    repo.upsert(ws.db, [cred], source="test")
    return cred.id


def write_events(ws: Workspace, source: str, rows: list[dict[str, Any]]) -> None:
    full = []
    for i, r in enumerate(rows):
        full.append(
            {
                "source": source,
                "event_type": "user.session.start",
                "outcome": "success",
                "raw": "{}",
                "origin": f"{source}.jsonl:{i + 1}",
                **r,
            }
        )
    batch = pa.RecordBatch.from_pylist(full, schema=EVENT_SCHEMA)
    EventStore(ws.events_dir).write(source, [batch])


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
