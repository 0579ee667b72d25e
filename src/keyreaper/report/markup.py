"""Escaping by construction: every value becomes text through `esc` unless it is `Markup`
that this package built itself. Values come from logs and inventories, so an actor named
`<script>` must reach the page as text (a tiny markupsafe, to need no template engine)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any


class Markup(str):
    """HTML this package produced; anything else is escaped where it is placed."""

    __slots__ = ()


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    if isinstance(value, list | tuple | set | frozenset):
        return Markup(", ".join(esc(v) for v in value))
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    """The parts escaped and joined; sep is escaped too unless it is Markup."""
    return Markup(esc(sep).join(esc(p) for p in parts))


def _attrs(attrs: dict[str, Any]) -> str:
    # class_ -> class, aria_label -> aria-label; None or False leaves the attribute out
    return "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"'
        for k, v in attrs.items()
        if v is not None and v is not False
    )


def tag(name: str, /, *children: Any, **attrs: Any) -> Markup:
    """<name attrs>children</name>, every child and attribute value escaped."""
    return Markup(f"<{name}{_attrs(attrs)}>{join(children)}</{name}>")


def void(name: str, /, **attrs: Any) -> Markup:
    """An element without content, such as <meta>."""
    return Markup(f"<{name}{_attrs(attrs)}>")


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    class_: str = "",
    row_class: Any = None,
) -> Markup:
    """A table of `rows`, one column per (key, heading); row_class(row) names a row's class."""
    head = tag("tr", *(tag("th", title, scope="col") for _, title in columns))
    body = [
        tag(
            "tr",
            *(_cell(row.get(key)) for key, _ in columns),
            class_=row_class(row) if row_class else None,
        )
        for row in rows
    ]
    return tag("table", tag("thead", head), tag("tbody", *body), class_=class_ or None)


def _cell(value: Any) -> Markup:
    # A list shows one value per line. A long unbroken token (a path, a fingerprint) may
    # break anywhere; short words never, so narrow columns keep "pending" whole.
    values = value if isinstance(value, list | tuple) else [value]
    long = any(len(word) > 32 for v in values for word in str(v if v is not None else "").split())
    return tag("td", join(values, Markup("<br>")), class_="long" if long else None)


def nothing(message: str) -> Markup:
    """A section that has nothing says so, rather than disappearing."""
    return tag("p", message, class_="nothing")
