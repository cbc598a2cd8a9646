"""CSV text meant to be opened in a spreadsheet, safe against formula injection: every export writes through here.

Excel, LibreOffice and Google Sheets read a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or a
carriage return before one) as a formula: ``=HYPERLINK("http://evil.example","Ver pedido")``, ``@SUM(A1)``,
``-2+3+cmd|' /C calc'!A0``. Imported data (customer ids and names, cities, product and supplier names, lot codes)
reaches the Logistics, Segments, Sourcing, Scenarios and Traceability exports, so a text cell starting with one of
those characters gets a leading apostrophe (OWASP's advice: the spreadsheet shows the text, runs nothing). A
number stays a number: ``-2.5`` or ``-3`` in a numeric column, or as text that is exactly a number, is not a
formula and is left alone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_RISKY = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_NUMBER_RE = re.compile(_NUMBER)


def cell(value: Any) -> Any:
    """``value`` as a spreadsheet may safely read it: text that would start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER_RE.match(value):
        return "'" + value
    return value


def rows_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text: a header row, then ``rows`` (every cell through :func:`cell`)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([cell(h) for h in header])
    for row in rows:
        w.writerow([cell(v) for v in row])
    return buf.getvalue()


def dicts_csv(rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None) -> str:
    """CSV text of records (header from ``fieldnames``, else the first record's keys); "" for no records
    without ``fieldnames``."""
    names = list(fieldnames) if fieldnames is not None else (list(rows[0].keys()) if rows else [])
    if not names:
        return ""
    return rows_csv(names, ([r.get(k) for k in names] for r in rows))


def safe_frame(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every text column passed through :func:`cell` (numeric columns untouched)."""
    exprs = []
    for name, dtype in df.schema.items():
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
            col = pl.col(name).cast(pl.String)
            risky = col.str.contains(_RISKY) & ~col.str.contains(_NUMBER)
            exprs.append(pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name))
    return df.with_columns(exprs) if exprs else df


def frame_csv(df: pl.DataFrame) -> str:
    """A Polars frame as CSV text, safe to open in a spreadsheet."""
    return safe_frame(df).write_csv()


__all__ = ["TRIGGERS", "cell", "dicts_csv", "frame_csv", "rows_csv", "safe_frame"]
