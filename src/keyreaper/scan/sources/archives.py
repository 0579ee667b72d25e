"""Archives (zip, tar, gzip, nested) expanded in memory, never to disk, within budgets.

Refused, each reported as a problem while the rest goes on: absolute and `..` member paths,
symlinks and hard links, overlapping zip entries (the "better zip bomb"; this Python predates
the stdlib's check), members whose compression ratio or size passes the limits, encrypted
members, and nesting deeper than the limit.
"""

from __future__ import annotations

import io
import itertools
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from keyreaper.scan.items import Item, Limits, Problem
from keyreaper.scan.sources import labels

_CHUNK = 1 << 20


def kind(data: bytes) -> str:
    """'zip', 'tar', 'gzip' or '' judged by magic bytes."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "zip"
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if len(data) > 262 and data[257:262] == b"ustar":
        return "tar"
    if data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        return "tar"  # tarfile opens bz2/xz-compressed tars; a bare stream fails cleanly
    return ""


@dataclass
class _Budget:
    expanded: int = 0


def unsafe_name(name: str) -> str:
    """Why a member path is refused, or ''."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "path escapes the archive (..)"
    return ""


def expand(
    item: Item, limits: Limits, depth: int = 0, budget: _Budget | None = None
) -> Iterator[Item | Problem]:
    """Yield the scannable members of an archive item (recursively), or the item itself."""
    budget = budget or _Budget()
    what = kind(item.data)
    if not what:
        yield item
        return
    if depth >= limits.max_depth:
        yield Problem(
            item.location, f"archive nested deeper than {limits.max_depth} levels; not opened"
        )
        return
    members = {"zip": _zip, "tar": _tar, "gzip": _gzip}[what]
    try:
        for member in members(item, limits, budget):
            if isinstance(member, Problem):
                yield member
            else:
                yield from expand(member, limits, depth + 1, budget)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError, struct.error) as exc:  # fmt: skip
        yield Problem(item.location, f"unreadable {what} archive ({type(exc).__name__}: {exc})")


def _child(item: Item, name: str, data: bytes, date: str = "") -> Item:
    child = Item(f"{item.location}!{name}", data, date or item.date, item.commit, item.author,
                 mtime=item.mtime)  # fmt: skip
    factory = labels.detect(name, data[:4096])
    if factory is not None:
        child.labeler = factory(data)
    return child


def _read_bounded(stream: IO[bytes], limit: int) -> tuple[bytes, bool]:
    buf = bytearray()
    while len(buf) <= limit:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return bytes(buf), False
        buf += chunk
    return bytes(buf[:limit]), True


def _zip_overlaps(zf: zipfile.ZipFile, raw: bytes) -> bool:
    spans = []
    for info in zf.infolist():
        off = info.header_offset
        if off + 30 > len(raw) or raw[off : off + 4] != b"PK\x03\x04":
            return True
        name_len, extra_len = struct.unpack("<HH", raw[off + 26 : off + 30])
        spans.append((off, off + 30 + name_len + extra_len + info.compress_size))
    spans.sort()
    return any(b[0] < a[1] for a, b in itertools.pairwise(spans))


def _zip(item: Item, limits: Limits, budget: _Budget) -> Iterator[Item | Problem]:
    zf = zipfile.ZipFile(io.BytesIO(item.data))
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        yield Problem(
            item.location, f"zip has {len(infos)} entries (limit {limits.max_entries}); not opened"
        )
        return
    if _zip_overlaps(zf, item.data):
        yield Problem(item.location, "zip entries overlap (a zip bomb); not opened")
        return
    # Confluence XML exports: entities.xml names the pages and attachments stored by id.
    pages: dict[str, str] = {}
    attachments: dict[str, str] = {}
    entities = next((i for i in infos if i.filename.endswith("entities.xml")), None)
    if entities is not None and entities.file_size < limits.max_item_bytes:
        _, pages, attachments = labels.confluence_entities(zf.read(entities))
    for info in infos:
        where = f"{item.location}!{info.filename}"
        if info.is_dir():
            continue
        reason = unsafe_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            reason = "symbolic link"
        if info.flag_bits & 0x1:
            reason = "encrypted member"
        if (
            not reason
            and info.compress_size
            and info.file_size / info.compress_size > limits.max_ratio
            and info.file_size > _CHUNK
        ):
            reason = f"compression ratio {info.file_size // max(info.compress_size, 1)}:1 above {limits.max_ratio}:1"
        if reason:
            yield Problem(where, reason + "; skipped")
            continue
        with zf.open(info) as fh:
            data, cut = _read_bounded(fh, limits.max_item_bytes)
        budget.expanded += len(data)
        if budget.expanded > limits.max_expanded:
            yield Problem(
                item.location, f"expanded more than {limits.max_expanded} bytes; rest skipped"
            )
            return
        y, mo, d, h, mi, sec = info.date_time
        date = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}"
        child = _child(item, info.filename, data, date)
        m = re.match(r"(?:.*/)?attachments/(\d+)/(\d+)(?:/|$)", info.filename)
        if m and (pages or attachments):
            page, att = pages.get(m.group(1), ""), attachments.get(m.group(2), "")
            text = f"attachment {att or m.group(2)} on page {page or m.group(1)}"
            child.labeler = lambda offset, text=text: text
        if cut:
            child.notes.append(f"truncated at {limits.max_item_bytes} bytes")
        yield child


def _tar(item: Item, limits: Limits, budget: _Budget) -> Iterator[Item | Problem]:
    with tarfile.open(fileobj=io.BytesIO(item.data), mode="r:*") as tf:
        for count, member in enumerate(tf):
            if count >= limits.max_entries:
                yield Problem(
                    item.location, f"more than {limits.max_entries} tar members; rest skipped"
                )
                return
            where = f"{item.location}!{member.name}"
            if member.isdir():
                continue
            reason = unsafe_name(member.name)
            if member.issym() or member.islnk():
                reason = "link member"
            elif not member.isfile():
                reason = reason or "special file"
            if reason:
                yield Problem(where, reason + "; skipped")
                continue
            fh = tf.extractfile(member)
            if fh is None:
                continue
            data, cut = _read_bounded(fh, limits.max_item_bytes)
            budget.expanded += len(data)
            if budget.expanded > limits.max_expanded:
                yield Problem(
                    item.location, f"expanded more than {limits.max_expanded} bytes; rest skipped"
                )
                return
            child = _child(item, member.name, data)
            if cut:
                child.notes.append(f"truncated at {limits.max_item_bytes} bytes")
            yield child


def _gzip(item: Item, limits: Limits, budget: _Budget) -> Iterator[Item | Problem]:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    src = item.data
    cap = min(limits.max_item_bytes, len(src) * limits.max_ratio + _CHUNK)
    for i in range(0, len(src), _CHUNK):
        out += d.decompress(src[i : i + _CHUNK], cap + 1 - len(out))
        if len(out) > cap or d.unconsumed_tail:
            why = "compression ratio" if cap < limits.max_item_bytes else "size"
            yield Problem(item.location, f"gzip {why} above limit; not expanded")
            return
    budget.expanded += len(out)
    base = re.split(r"[!/\\]", item.location)[-1]
    name = base[:-4] + ".tar" if base.endswith(".tgz") else base.removesuffix(".gz") or "content"
    if budget.expanded > limits.max_expanded:
        yield Problem(item.location, "expansion budget spent")
        return
    yield _child(item, name, bytes(out))
