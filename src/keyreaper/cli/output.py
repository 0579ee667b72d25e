"""One way to print lists: a rich table for people, --json and --csv for machines.

JSON output is a list of objects with the documented, stable field names of each command
(docs/cli.md); values are strings, numbers, booleans, lists or null.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from keyreaper.cli.context import out


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def choose(as_json: bool, as_csv: bool = False) -> Format:
    if as_json:
        return Format.json
    if as_csv:
        return Format.csv
    return Format.table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def emit(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    *,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    rows = list(rows)
    if fmt is Format.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    if fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return
    if not rows:
        out.print(f"[dim]{empty}[/dim]")
        return
    from rich.table import Table  # only tables for people need rich

    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    out.print(table)


def emit_object(obj: dict[str, Any], fmt: Format, title: str | None = None) -> None:
    if fmt is Format.json:
        json.dump(obj, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in obj.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = "\n".join(json.dumps(v, default=str) for v in value)
        table.add_row(key, _cell(value))
    out.print(table)
