"""A token index beside the event store, so indicator hunts read tokens, not whole records.

For every Parquet file of the event store we keep one index file: each distinct token of the
file (IP addresses, host names, e-mail addresses, hashes, key ids found anywhere in the raw
record, plus the lower-cased values of the identity columns) with the row numbers that hold
it, and the columns a hit reports for every row. Event files are written once and never
changed, so an index stays valid; it is rebuilt when the file's size or mtime differs.
Building it costs one pass over `raw` (DuckDB); every later hunt reads the index with plain
Python — binary searches over sorted arrays, seeks into the postings and the row blocks — so
a hunt needs neither DuckDB nor pyarrow, whose imports alone cost more than the lookups.

One file per event file, sections addressed by a JSON header at the end:
  hash, hash_tid   sorted 64-bit keys of every token (kind "t") and of every domain suffix
                   of a host or e-mail token (kind "s"), with the token each belongs to
  ip4, ip4_tid     IPv4 tokens as sorted integers (CIDR ranges are two binary searches)
  ip6_tid          tokens with ':' (few; parsed at hunt time)
  tok, tok_off     the token texts, to confirm a key match (no trust in a 64-bit hash),
                   JSON lists of BLOCK tokens (tokens_build.py), zlib-compressed
  post, post_off   row numbers of each token, in token order (offsets u32, or u64 if large)
  ev, ev_off       the hit columns of every row, JSON in zlib blocks of BLOCK rows
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import json
import mmap
import re
import struct
import sys
import zlib
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import duckdb

# RE2 (DuckDB) alternation, leftmost-first: e-mails before host names, IPv4 before hosts.
TOKEN_PATTERN = (
    r"[a-z0-9._%+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}"  # noqa: S105
    r"|(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?"
    r"|(?:[a-z0-9_-]+\.)+[a-z][a-z0-9-]+"
    r"|\b[0-9a-f]{32,64}\b"
    r"|\b(?:akia|asia|aroa|aida)[0-9a-z]{12,20}\b"
    r"|\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b"
)
# Columns whose whole value is a token (credentials, actors and targets have no fixed shape).
COLUMN_TOKENS = (
    "lower(src_ip)",
    "lower(user_agent)",
    "lower(credential_id)",
    "lower(actor_id)",
    "lower(actor_name)",
    "lower(target_id)",
    "lower(target_name)",
    "'as' || CAST(src_asn AS VARCHAR)",
)
VERSION = "7"
# The event columns a hit reports, stored per row (time as epoch microseconds).
HIT_COLUMNS = ("time", "source", "event_type", "outcome", "actor_id", "actor_name",
               "credential_id", "src_ip", "src_asn", "user_agent", "target_id", "target_name",
               "origin")  # fmt: skip
# Raw deflate with fixed Huffman codes: a 3 KB block inflates in half the time (no code
# tables to build per block; what a hit costs), for a fifth more bytes.
_WBITS = -15
_MAGIC = b"KRI" + VERSION.encode()
_IP4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")
_INDEX_NAME = re.compile(r"[0-9a-f]{24}(\.rows)?\.(parquet|u32|kri)")
_LITTLE = sys.byteorder == "little"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def token_expr(text_expr: str, columns: bool = True) -> str:
    """SQL for the distinct tokens of one event (a list)."""
    parts = [f"regexp_extract_all(lower({text_expr}), {_sql_str(TOKEN_PATTERN)})"]
    if columns:
        parts.append("[" + ", ".join(COLUMN_TOKENS) + "]")
    expr = parts[0] if len(parts) == 1 else f"list_concat({', '.join(parts)})"
    return f"list_distinct({expr})"


def key_hash(kind: str, text: str) -> int:
    """The 64-bit key of a token ("t") or of a domain suffix ("s")."""
    digest = hashlib.blake2b(f"{kind}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def ip4_value(token: str) -> int | None:
    m = _IP4.fullmatch(token)
    if not m:
        return None
    a, b, c, d = (int(x) for x in m.groups())
    if max(a, b, c, d) > 255:
        return None  # not an address: no CIDR can hold it
    return (a << 24) | (b << 16) | (c << 8) | d


def suffixes(token: str) -> list[str]:
    """The domains a host or e-mail token lies in (two labels or more): a listed domain
    matches its subdomains and its e-mail addresses."""
    if "." not in token or not re.search("[a-z]", token):
        return []
    labels = token.rsplit("@", 1)[-1].split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def index_path(index_dir: Path, data_file: Path) -> Path:
    st = data_file.stat()
    key = f"{VERSION}:{data_file.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return index_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.kri"


class TokenIndex:
    """One index file, read with seeks and binary searches (sections load on first use)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        start, magic = struct.unpack_from("<Q4s", self._mm, len(self._mm) - 12)
        if magic != _MAGIC:
            raise ValueError(f"{self.path}: not a token index of version {VERSION}")
        self.meta: dict[str, Any] = json.loads(self._mm[start : len(self._mm) - 12])
        self._arrays: dict[str, Sequence[int]] = {}
        self._views: list[memoryview] = []
        self._block: tuple[str, int, list[bytes]] = ("", -1, [])

    def close(self) -> None:
        self._arrays.clear()
        for view in self._views:
            view.release()
        self._mm.close()

    def __enter__(self) -> TokenIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _array(self, name: str, code: Literal["I", "Q"]) -> Sequence[int]:
        """A section as a sequence of integers: a view of the mapped file where byte order
        allows (binary searches touch a few pages, not the whole section), else a copy."""
        if name not in self._arrays:
            start, length = self.meta["sections"][name]
            if _LITTLE:
                self._views.append(memoryview(self._mm)[start : start + length].cast(code))
                self._arrays[name] = self._views[-1]
            else:
                values = array(code)
                values.frombytes(self._mm[start : start + length])
                values.byteswap()
                self._arrays[name] = values
        return self._arrays[name]

    def _at(self, name: str, fmt: str, i: int) -> int:
        start = self.meta["sections"][name][0]
        value: int = struct.unpack_from(fmt, self._mm, start + i * struct.calcsize(fmt))[0]
        return value

    def _line(self, name: str, i: int) -> bytes:
        """Item i of a section of zlib blocks (the last block read is kept)."""
        size = int(self.meta["block"])
        block = i // size
        if self._block[:2] != (name, block):
            start = self.meta["sections"][name][0]
            off = f"{name}_off"
            a, b = self._at(off, "<Q", block), self._at(off, "<Q", block + 1)
            self._block = (
                name,
                block,
                zlib.decompress(self._mm[start + a : start + b], _WBITS).split(b"\n"),
            )
        return self._block[2][i % size]

    def token(self, tid: int) -> str:
        text: str = json.loads(self._line("tok", tid))
        return text

    def _keyed(self, kind: str, texts: Sequence[str]) -> list[list[int]]:
        """Candidate token ids of each text's key (thousands of lookups: one loop)."""
        hashes, tids = self._array("hash", "Q"), self._array("hash_tid", "I")
        n, out = len(hashes), []
        for text in texts:
            h = key_hash(kind, text)
            i = bisect.bisect_left(hashes, h)
            found = []
            while i < n and hashes[i] == h:
                found.append(tids[i])
                i += 1
            out.append(found)
        return out

    def exact(self, texts: Sequence[str]) -> list[list[int]]:
        """For each text, the id of the token equal to it (one or none)."""
        return [
            [t for t in found if self.token(t) == text]
            for text, found in zip(texts, self._keyed("t", texts), strict=True)
        ]

    def within_domain(self, domains: Sequence[str]) -> list[list[int]]:
        """For each domain, the host and e-mail tokens that are it or lie under it."""
        return [
            sorted({t for t in found if domain in suffixes(self.token(t))})
            for domain, found in zip(domains, self._keyed("s", domains), strict=True)
        ]

    def ip4_between(self, lo: int, hi: int) -> list[int]:
        values, tids = self._array("ip4", "Q"), self._array("ip4_tid", "I")
        return list(tids[bisect.bisect_left(values, lo) : bisect.bisect_right(values, hi)])

    def ip6_values(self) -> list[tuple[int, int]]:
        """(address as an integer, token id) of every token that is an IPv6 address."""
        out = []
        for tid in self._array("ip6_tid", "I"):
            try:
                out.append((int(ipaddress.IPv6Address(self.token(tid).split("%")[0])), tid))
            except ValueError:
                continue
        return out

    def rows(self, tid: int) -> array[int]:
        """The row numbers holding token `tid`."""
        fmt = "<Q" if self.meta.get("post_off") == "Q" else "<I"
        a, b = self._at("post_off", fmt, tid), self._at("post_off", fmt, tid + 1)
        start = self.meta["sections"]["post"][0]
        values = array("I")
        values.frombytes(self._mm[start + a * 4 : start + b * 4])
        if not _LITTLE:
            values.byteswap()
        return values

    def events(self, rows: Sequence[int]) -> dict[int, list[Any]]:
        """The hit columns (HIT_COLUMNS order) of the given rows."""
        return {rn: json.loads(self._line("ev", rn)) for rn in sorted(set(rows))}


def ensure(
    con: duckdb.DuckDBPyConnection | None, index_dir: Path, files: list[Path]
) -> dict[str, Path]:
    """Index path -> data file for every event file, building missing indexes (with `con`,
    or a DuckDB connection of its own)."""
    index_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    out: dict[str, Path] = {}
    own = None
    try:
        for f in files:
            target = index_path(index_dir, f)
            if not target.exists():
                if con is None:
                    import duckdb

                    con = own = duckdb.connect()
                    con.execute("SET enable_progress_bar = false")
                from keyreaper.hunt.tokens_build import build

                build(con, f, target)
            out[str(target)] = f
    finally:
        if own is not None:
            own.close()
    # Indexes of files no longer in the store, or of an older index version, are dropped.
    keep = {Path(t).name for t in out}
    for p in index_dir.iterdir():
        if _INDEX_NAME.fullmatch(p.name) and p.name not in keep:
            p.unlink(missing_ok=True)
    return out
