"""IP addresses in DuckDB SQL, for CIDR matching without an extension (the `inet` extension
would need a download): IPv4 text -> integer, IPv6 text -> 32 lower-case hex digits.

Fixed-width hex compares as text in the same order as the 128-bit number, so an IPv6 CIDR is
a `BETWEEN first AND last` on the hex form, like an IPv4 CIDR on the integer. The IPv6 form
accepts `::` compression, an embedded IPv4 tail (`::ffff:192.0.2.10`) and a zone (`%eth0`);
anything else that is not an address gives NULL, so it never matches.
"""

from __future__ import annotations

import ipaddress

import duckdb

# A list expression of the groups on either side of '::' (empty list for an empty side).
_HEAD = "CASE WHEN split_part(t, '::', 1) = '' THEN []::VARCHAR[] ELSE string_split(split_part(t, '::', 1), ':') END"
_TAIL = "CASE WHEN split_part(t, '::', 2) = '' THEN []::VARCHAR[] ELSE string_split(split_part(t, '::', 2), ':') END"
_V4_TAIL = "regexp_extract(s, '[^:]*$')"

MACROS = (
    "CREATE OR REPLACE MACRO kr_ip4(s) AS list_transform([s], lambda a: CASE WHEN"
    " regexp_full_match(a, '(\\d{1,3}\\.){3}\\d{1,3}') THEN (CAST(split_part(a, '.', 1) AS UBIGINT)"
    " << 24) + (CAST(split_part(a, '.', 2) AS UBIGINT) << 16) + (CAST(split_part(a, '.', 3)"
    " AS UBIGINT) << 8) + CAST(split_part(a, '.', 4) AS UBIGINT) END)[1]",
    # an IPv4 tail becomes two hex groups
    "CREATE OR REPLACE MACRO kr_ip6_v4tail(s) AS CASE WHEN regexp_full_match(s,"
    " '.*:\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}') THEN regexp_replace(s, '[^:]*$', '')"
    f" || printf('%x:%x', CAST(split_part({_V4_TAIL}, '.', 1) AS INTEGER) * 256"
    f" + CAST(split_part({_V4_TAIL}, '.', 2) AS INTEGER), CAST(split_part({_V4_TAIL}, '.', 3)"
    f" AS INTEGER) * 256 + CAST(split_part({_V4_TAIL}, '.', 4) AS INTEGER)) ELSE s END",
    # the eight groups, '::' expanded; NULL when '::' occurs twice or stands for nothing
    "CREATE OR REPLACE MACRO kr_ip6_groups(t) AS CASE WHEN NOT contains(t, '::')"
    " THEN string_split(t, ':') WHEN regexp_matches(t, '::.*::|:::') THEN NULL"
    f" WHEN len({_HEAD}) + len({_TAIL}) > 7 THEN NULL"
    f" ELSE list_concat({_HEAD}, list_transform(range(8 - len({_HEAD}) - len({_TAIL})),"
    f" lambda x: '0'), {_TAIL}) END",
    "CREATE OR REPLACE MACRO kr_ip6_hex(g) AS CASE WHEN len(g) = 8 AND len(list_filter(g,"
    " lambda x: NOT regexp_full_match(x, '[0-9a-f]{1,4}'))) = 0 THEN"
    " array_to_string(list_transform(g, lambda x: lpad(x, 4, '0')), '') END",
    # Each stage binds its input once through a one-element list_transform: nested macros
    # would paste their argument into every use, and the expression grows multiplicatively.
    "CREATE OR REPLACE MACRO kr_ip6(s) AS list_transform(list_transform("
    "list_transform([s], lambda a: CASE WHEN contains(a, ':') AND regexp_full_match(lower(a),"
    " '[0-9a-f:.]+(%.*)?') THEN kr_ip6_v4tail(lower(split_part(a, '%', 1))) END),"
    " lambda t: kr_ip6_groups(t)), lambda g: kr_ip6_hex(g))[1]",
)


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create the macros on a DuckDB connection (idempotent)."""
    for macro in MACROS:
        con.execute(macro)


def v6_bounds(net: ipaddress.IPv6Network) -> tuple[str, str]:
    """First and last address of an IPv6 network in kr_ip6's hex form."""
    return f"{int(net.network_address):032x}", f"{int(net.broadcast_address):032x}"


def v4_bounds(net: ipaddress.IPv4Network) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)
