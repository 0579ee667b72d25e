"""A token index beside the event store, so indicator hunts read tokens, not whole records.

For every Parquet file of the event store we keep one index file: each distinct token of the
file (IP addresses, host names, e-mail addresses, hashes, key ids found anywhere in the raw
record, plus the lower-cased values of the identity columns) with the row numbers that hold
it. Event files are written once and never changed, so an index stays valid; it is rebuilt
when the file's size or mtime differs. Building it costs one pass over `raw`; every later
hunt over any number of indicators reads only the tokens.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from array import array
from collections.abc import Sequence
from pathlib import Path

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
VERSION = "4"
# Per token, precomputed once at build so a hunt only joins: the IPv4 address as an integer
# (CIDR ranges) and the host's suffixes (domain indicators match subdomains and e-mails).
_IP4 = (
    "CASE WHEN regexp_full_match(tok, '(\\d{1,3}\\.){3}\\d{1,3}') THEN"
    " (CAST(split_part(tok, '.', 1) AS UBIGINT) << 24) + (CAST(split_part(tok, '.', 2) AS UBIGINT) << 16)"
    " + (CAST(split_part(tok, '.', 3) AS UBIGINT) << 8) + CAST(split_part(tok, '.', 4) AS UBIGINT) END"
)
_SFX = (
    "CASE WHEN contains(tok, '.') AND regexp_matches(tok, '[a-z]') THEN list_transform("
    "range(0, len(string_split(split_part(tok, '@', -1), '.')) - 1), lambda i: array_to_string("
    "string_split(split_part(tok, '@', -1), '.')[i + 1:], '.')) END"
)


_INDEX_NAME = re.compile(r"[0-9a-f]{24}(\.rows)?\.(parquet|u32)")


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def token_expr(text_expr: str, columns: bool = True) -> str:
    """SQL for the distinct tokens of one event (a list)."""
    parts = [f"regexp_extract_all(lower({text_expr}), {_sql_str(TOKEN_PATTERN)})"]
    if columns:
        parts.append("[" + ", ".join(COLUMN_TOKENS) + "]")
    expr = parts[0] if len(parts) == 1 else f"list_concat({', '.join(parts)})"
    return f"list_distinct({expr})"


def index_path(index_dir: Path, data_file: Path) -> Path:
    st = data_file.stat()
    key = f"{VERSION}:{data_file.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return index_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.parquet"


def rows_path(index_file: Path | str) -> Path:
    """The postings file beside a token file: the row numbers of every token, one after
    another in token-id order, as little-endian uint32 (a token's run is at `off`, `cnt`)."""
    p = Path(index_file)
    return p.with_name(p.stem + ".rows.u32")


def build(con: duckdb.DuckDBPyConnection, data_file: Path, target: Path) -> None:
    """Write the token index of one event file: a dictionary of distinct tokens (tok, ip4,
    sfx, and where its row numbers are: off, cnt) and the postings apart, as a flat array, so
    a hunt reads the dictionary once and then only the few postings runs it matched (a seek
    and a read each, no decoding). Both are written to temporary names, then renamed,
    postings last (its presence marks a complete index)."""
    src = _sql_str(str(data_file))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE kr_pairs AS SELECT file_row_number AS rn,"
        f" unnest({token_expr('raw')}) AS tok FROM read_parquet({src}, file_row_number = true)"
    )
    con.execute("DELETE FROM kr_pairs WHERE tok IS NULL OR tok = ''")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE kr_dict AS SELECT row_number() OVER (ORDER BY tok) - 1"
        " AS id, tok, cnt FROM (SELECT tok, count(*) AS cnt FROM kr_pairs GROUP BY tok)"
    )
    rows = rows_path(target)
    tmp_tok, tmp_rows = target.with_name(f".{target.name}.tmp"), rows.with_name(f".{rows.name}.tmp")
    # Small row groups: the dictionary is read whole, but by both cores.
    con.execute(
        f"COPY (SELECT id, tok, {_IP4} AS ip4, {_SFX} AS sfx, CAST(sum(cnt) OVER (ORDER BY id)"
        " - cnt AS BIGINT) AS off, cnt FROM kr_dict ORDER BY id)"
        f" TO {_sql_str(str(tmp_tok))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536)"
    )
    postings = con.execute(
        "SELECT CAST(p.rn AS UINTEGER) AS rn FROM kr_pairs p JOIN kr_dict d USING (tok)"
        " ORDER BY d.id, p.rn"
    ).fetchnumpy()["rn"]
    with open(tmp_rows, "wb") as fh:
        fh.write(postings.astype("<u4").tobytes())
    con.execute("DROP TABLE kr_pairs")
    con.execute("DROP TABLE kr_dict")
    os.replace(tmp_tok, target)
    os.replace(tmp_rows, rows)


_U32 = "I" if array("I").itemsize == 4 else "L"


def postings(index_file: Path | str, runs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The row numbers of each (off, cnt) run of an index's postings, in the order given."""
    out = []
    with open(rows_path(index_file), "rb") as fh:
        for off, cnt in runs:
            fh.seek(off * 4)
            part = array(_U32, fh.read(cnt * 4))
            if sys.byteorder != "little":
                part.byteswap()
            out.append(part.tolist())
    return out


def ensure(con: duckdb.DuckDBPyConnection, index_dir: Path, files: list[Path]) -> dict[str, Path]:
    """Index path -> data file for every event file, building missing indexes."""
    index_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    out: dict[str, Path] = {}
    for f in files:
        target = index_path(index_dir, f)
        if not rows_path(target).exists():
            build(con, f, target)
        out[str(target)] = f
    # Indexes of files no longer in the store, or of an older index version, are dropped.
    keep = {p.name for t in out for p in (Path(t), rows_path(t))}
    for p in index_dir.iterdir():
        if _INDEX_NAME.fullmatch(p.name) and p.name not in keep:
            p.unlink(missing_ok=True)
    return out
