"""CSV for Excel on Chinese Windows: UTF-8 with a byte-order mark (without it Excel reads GBK and garbles Chinese),
CRLF rows, and every cell that a spreadsheet would take for a formula neutralised (OWASP "CSV injection": a cell
beginning with = + - @, a tab or a carriage return is prefixed with an apostrophe)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from reporting.exports.table import Cell, Table

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: Cell, *, kind: str = "text") -> str:
    """A cell as CSV text; a rate in percent with two decimals; a formula-looking text prefixed with `'`."""
    if cell is None:
        return ""
    text = f"{cell * 100:.2f}" if kind == "rate" and isinstance(cell, int | float) else str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(headers: list[str], rows: Iterable[list[Cell]], kinds: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralised(h) for h in headers])
    for row in rows:
        writer.writerow([neutralised(c, kind=(kinds or [])[i] if kinds and i < len(kinds) else "text")
                         for i, c in enumerate(row)])  # fmt: skip
    return (BOM + out.getvalue()).encode("utf-8")


def table_csv(table: Table) -> bytes:
    """A table as CSV; a rate column's header says it is in percent."""
    headers = [f"{h}(%)" if k == "rate" else h for h, k in zip(table.headers, table.kinds, strict=True)]
    return to_csv(headers, table.rows, table.kinds)
