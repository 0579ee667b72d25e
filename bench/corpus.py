"""Seeded generators for benchmark corpora: Okta-shaped JSON lines and a store of events."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

EVENT_TYPES = [
    "user.session.start",
    "user.authentication.sso",
    "policy.evaluate_sign_on",
    "user.session.end",
    "app.oauth2.token.grant",
    "system.api_token.create",
]


def okta_lines(path: Path, size_bytes: int, seed: int = 7) -> Path:
    """Okta System Log-shaped NDJSON of about `size_bytes`; a field appears only late."""
    if path.exists() and path.stat().st_size >= size_bytes:
        return path
    rnd = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    written = 0
    i = 0
    with open(tmp, "w") as fh:
        while written < size_bytes:
            when = start + timedelta(seconds=i * 0.37)
            actor = f"00u{rnd.randrange(50_000):017d}"
            rec = {
                "uuid": f"{rnd.getrandbits(128):032x}",
                "published": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventType": rnd.choice(EVENT_TYPES),
                "version": "0",
                "severity": "INFO",
                "displayMessage": "User login to Okta",
                "actor": {
                    "id": actor,
                    "type": "User",
                    "alternateId": f"{actor}@example.test",
                    "displayName": "Synthetic User",
                },
                "client": {
                    "ipAddress": f"198.51.{rnd.randrange(256)}.{rnd.randrange(256)}",
                    "userAgent": {
                        "rawUserAgent": "Mozilla/5.0 (X11; Linux x86_64) synthetic",
                        "os": "Linux",
                        "browser": "FIREFOX",
                    },
                    "zone": "null",
                    "device": "Computer",
                    "geographicalContext": {"city": "Nowhere", "country": "Testland"},
                },
                "outcome": {"result": rnd.choice(["SUCCESS", "SUCCESS", "FAILURE", "ALLOW"])},
                "authenticationContext": {"externalSessionId": f"102{rnd.getrandbits(64):x}"},
                "securityContext": {"asNumber": rnd.randrange(64_496, 64_511)},
                "transaction": {
                    "type": "WEB",
                    "id": f"X{rnd.getrandbits(64):x}",
                    "detail": {"requestApiTokenId": f"00T{rnd.randrange(10_000):017d}"}
                    if i % 5 == 0
                    else {},
                },
                "debugContext": {
                    "debugData": {"requestUri": "/api/v1/authn", "threatSuspected": "false"}
                },
                "target": [{"id": f"0oa{i % 977}", "type": "AppInstance", "displayName": "App"}],
            }
            line = json.dumps(rec, separators=(",", ":")) + "\n"
            fh.write(line)
            written += len(line)
            i += 1
    tmp.replace(path)
    return path
