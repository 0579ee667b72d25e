"""ASNs for IPs from a MaxMind-format database the user points to (usage.geoip_asn_db).
No database is shipped; without one, new-source flags say they are IP-only unless the
log itself carried ASNs (Okta's securityContext)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Any

from keyreaper.errors import KeyreaperError
from keyreaper.extras import require


class AsnLookup:
    def __init__(self, path: Path) -> None:
        maxminddb = require("maxminddb", "hunt")
        try:
            self._reader: Any = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise KeyreaperError(f"{path}: cannot open the ASN database ({exc})") from exc
        self.asn = lru_cache(maxsize=65536)(self._asn)

    def _asn(self, ip: str) -> int | None:
        try:
            ipaddress.ip_address(ip)
            record = self._reader.get(ip)
        except ValueError:
            return None
        if isinstance(record, dict) and record.get("autonomous_system_number"):
            return int(record["autonomous_system_number"])
        return None

    def close(self) -> None:
        self._reader.close()
