"""Reading a report back: per section its text, tables (rows of cell texts), and pictures
(SVG text labels and element counts). html.parser unescapes entities as a browser does."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Svg:
    texts: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Section:
    id: str
    text: str = ""
    tables: list[list[list[str]]] = field(default_factory=list)
    svgs: list[Svg] = field(default_factory=list)
    classes: list[tuple[str, str]] = field(default_factory=list)  # (class, text) of <p>


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, Section] = {}
        self.current: Section | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.svg: Svg | None = None
        self.svg_text: list[str] | None = None
        self.para: tuple[str, list[str]] | None = None
        self.head: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "br" and self.cell is not None:
            self.cell.append("\n")
            return
        if tag == "section":
            self.current = self.sections[a["id"] or ""] = Section(a["id"] or "")
        if tag == "section" or self.current is None:
            return
        if tag == "table":
            self.current.tables.append([])
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "svg":
            self.svg = Svg()
            self.current.svgs.append(self.svg)
        elif tag == "p":
            self.para = (a.get("class") or "", [])
        if self.svg is not None:
            self.svg.counts[tag] = self.svg.counts.get(tag, 0) + 1
            if tag == "text":
                self.svg_text = []

    def handle_endtag(self, tag: str) -> None:
        if self.current is None:
            return
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.current.tables[-1].append(self.row)
            self.row = None
        elif tag == "text" and self.svg is not None and self.svg_text is not None:
            self.svg.texts.append("".join(self.svg_text))
            self.svg_text = None
        elif tag == "svg":
            self.svg = None
        elif tag == "p" and self.para is not None:
            self.current.classes.append((self.para[0], "".join(self.para[1])))
            self.para = None
        elif tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current is None:
            self.head.append(data)
            return
        self.current.text += data
        for part in (self.cell, self.svg_text, self.para[1] if self.para else None):
            if part is not None:
                part.append(data)


def read(html: str) -> tuple[str, dict[str, Section]]:
    """(the text before the first section, the sections by id)."""
    p = _Parser()
    p.feed(html)
    return "".join(p.head), p.sections


def body_rows(table: list[list[str]]) -> list[list[str]]:
    return table[1:]  # without the heading row
