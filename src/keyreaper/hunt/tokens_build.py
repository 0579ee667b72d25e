"""Building a token index file (hunt/tokens.py describes the layout and reads it): one pass
of DuckDB over an event file's `raw`, then the sections written one after another."""

from __future__ import annotations

import json
import os
import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyreaper.hunt.tokens import (
    _LITTLE,
    _MAGIC,
    _WBITS,
    HIT_COLUMNS,
    VERSION,
    _sql_str,
    ip4_value,
    key_hash,
    suffixes,
    token_expr,
)

if TYPE_CHECKING:
    import duckdb

BLOCK = 16  # rows (tokens) per compressed block: a hit decompresses ~1 KB
_COLUMN_TYPES = {"src_asn": "BIGINT"}
FETCH_ROWS = 1 << 16  # rows fetched from DuckDB at a time while building


def _le(values: array[int]) -> bytes:
    if not _LITTLE:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


class _Writer:
    """Sections appended one after another; the header (where each is) goes last."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "wb")  # noqa: SIM115 (closed in finish)
        self.sections: dict[str, list[int]] = {}

    def add(self, name: str, data: bytes | Iterable[bytes]) -> None:
        start = self.fh.tell()
        if isinstance(data, bytes):
            self.fh.write(data)
        else:
            for part in data:
                self.fh.write(part)
        self.sections[name] = [start, self.fh.tell() - start]

    def finish(self, meta: dict[str, Any]) -> None:
        start = self.fh.tell()
        self.fh.write(json.dumps({**meta, "sections": self.sections}).encode())
        self.fh.write(struct.pack("<Q4s", start, _MAGIC))
        self.fh.close()


def build(con: duckdb.DuckDBPyConnection, data_file: Path, target: Path) -> None:
    """Write the index of one event file (to a temporary name, then renamed: a present
    index is a complete one)."""
    import numpy as np

    src = f"read_parquet({_sql_str(str(data_file))}, file_row_number = true)"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE kr_pairs AS SELECT file_row_number AS rn,"
        f" unnest({token_expr('raw')}) AS tok FROM {src}"
    )
    con.execute("DELETE FROM kr_pairs WHERE tok IS NULL OR tok = ''")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE kr_dict AS SELECT row_number() OVER (ORDER BY tok) - 1"
        " AS id, tok, cnt FROM (SELECT tok, count(*) AS cnt FROM kr_pairs GROUP BY tok)"
    )
    dictionary = con.execute("SELECT tok, cnt FROM kr_dict ORDER BY id").fetchall()
    post = con.execute(
        "SELECT CAST(p.rn AS UINTEGER) AS rn FROM kr_pairs p JOIN kr_dict d USING (tok)"
        " ORDER BY d.id, p.rn"
    ).fetchnumpy()["rn"]
    con.execute("DROP TABLE kr_pairs")
    con.execute("DROP TABLE kr_dict")

    hashes: list[int] = []
    hash_tid: list[int] = []
    ip4: list[tuple[int, int]] = []
    ip6 = array("I")
    post_off = array("Q", [0])
    for tid, (tok, cnt) in enumerate(dictionary):
        post_off.append(post_off[-1] + cnt)
        hashes.append(key_hash("t", tok))
        hash_tid.append(tid)
        for sfx in suffixes(tok):
            hashes.append(key_hash("s", sfx))
            hash_tid.append(tid)
        v4 = ip4_value(tok)
        if v4 is not None:
            ip4.append((v4, tid))
        elif ":" in tok:
            ip6.append(tid)
    order = np.argsort(np.array(hashes, dtype=np.uint64), kind="stable")
    ip4.sort()

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # two hunts may build at once
    w = _Writer(tmp)
    w.add("hash", np.array(hashes, dtype="<u8")[order].tobytes())
    w.add("hash_tid", np.array(hash_tid, dtype="<u4")[order].tobytes())
    w.add("ip4", _le(array("Q", [v for v, _ in ip4])))
    w.add("ip4_tid", _le(array("I", [t for _, t in ip4])))
    w.add("ip6_tid", _le(ip6))
    tok_off = array("Q", [0])
    w.add("tok", _blocks([t for t, _ in dictionary], tok_off))
    w.add("tok_off", _le(tok_off))
    w.add("post", post.astype("<u4").tobytes())
    post_code = "I" if post_off[-1] < 1 << 32 else "Q"
    w.add("post_off", _le(array(post_code, post_off)))
    rows, ev_off = _write_rows(con, data_file, w)
    w.add("ev_off", _le(ev_off))
    raw = con.execute(
        "SELECT sum(total_uncompressed_size) FROM parquet_metadata(?) WHERE path_in_schema = 'raw'",
        [str(data_file)],
    ).fetchone()
    w.finish({"version": VERSION, "rows": rows, "block": BLOCK, "columns": list(HIT_COLUMNS),
              "raw_bytes": int(raw[0] or 0) if raw else 0, "post_off": post_code})  # fmt: skip
    os.replace(tmp, target)


def _blocks(items: Sequence[Any], offsets: array[int]) -> Iterator[bytes]:
    """zlib blocks of BLOCK items, a JSON line each; `offsets` gets each block's end."""
    for i in range(0, len(items), BLOCK):
        text = "\n".join(json.dumps(x, separators=(",", ":")) for x in items[i : i + BLOCK])
        packer = zlib.compressobj(6, zlib.DEFLATED, _WBITS, 9, zlib.Z_FIXED)
        data = packer.compress(text.encode()) + packer.flush()
        offsets.append(offsets[-1] + len(data))
        yield data


def _write_rows(
    con: duckdb.DuckDBPyConnection, data_file: Path, w: _Writer
) -> tuple[int, array[int]]:
    """The hit columns of every row, in row order, BLOCK rows per zlib block."""
    src = f"read_parquet({_sql_str(str(data_file))}, file_row_number = true)"
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    cols = ", ".join(
        ("epoch_us(time)" if c == "time" else c)
        if c in present
        else f"CAST(NULL AS {_COLUMN_TYPES.get(c, 'VARCHAR')})"
        for c in HIT_COLUMNS
    )
    cur = con.execute(f"SELECT {cols} FROM {src} ORDER BY file_row_number")
    ev_off = array("Q", [0])
    count = 0

    def blocks() -> Iterator[bytes]:
        nonlocal count
        rest: list[Any] = []  # a block never straddles two fetches
        while batch := cur.fetchmany(FETCH_ROWS):
            count += len(batch)
            rest += batch
            whole = len(rest) - len(rest) % BLOCK
            yield from _blocks(rest[:whole], ev_off)
            rest = rest[whole:]
        yield from _blocks(rest, ev_off)

    w.add("ev", blocks())
    return count, ev_off
