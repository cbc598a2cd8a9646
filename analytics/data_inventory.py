"""What the Data page lists: every table with rows, date range, schema, quarantine; every model."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import polars as pl

from analytics import storage
from analytics.model_card import model_catalog
from analytics.schemas import SCHEMAS


def _dtype_name(dtype: Any) -> str:
    return str(dtype)


def _footer_stats(path: Path, date_col: str | None, dtype: Any) -> dict[str, Any] | None:
    """Rows, and the min and max of ``date_col``, from the Parquet footers alone (row counts and column statistics
    of every row group; nothing else is read). None when a footer lacks them: the caller scans instead."""
    import pyarrow.parquet as pq

    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]  # a file, or a partitioned folder
    rows, lows, highs = 0, [], []
    for f in files:
        meta = pq.ParquetFile(f).metadata
        rows += meta.num_rows
        if date_col is None:
            continue
        names = [meta.schema.column(j).path for j in range(meta.num_columns)]
        if date_col not in names:
            return None
        j = names.index(date_col)
        for i in range(meta.num_row_groups):
            col = meta.row_group(i).column(j)
            if col.num_values == 0 or col.statistics is not None and col.statistics.null_count == col.num_values:
                continue  # an empty or all-null group has no bounds to give
            st = col.statistics
            if st is None or not st.has_min_max:
                return None
            lows.append(st.min)
            highs.append(st.max)
    if date_col is None:
        return {"rows": rows}
    if not isinstance(dtype, pl.Date | pl.Datetime):
        return None
    if not lows:
        return {"rows": rows, "lo": None, "hi": None}
    bounds = pl.Series([min(lows), max(highs)])
    if isinstance(dtype, pl.Datetime) and dtype.time_zone:  # statistics are instants: show them in the table's zone
        if getattr(bounds.dtype, "time_zone", None) is None:
            bounds = bounds.dt.replace_time_zone("UTC")
        bounds = bounds.dt.convert_time_zone(dtype.time_zone)
    bounds = bounds.cast(dtype)
    return {"rows": rows, "lo": bounds[0], "hi": bounds[1]}


def table_catalog(data_dir: Path | str, only: Collection[str] | None = None) -> list[dict[str, Any]]:
    """One entry per Parquet table in the data directory (or per table named in ``only``). Row counts and date
    ranges come from the Parquet footers (a million-row table costs what a small one does); a file without
    statistics is scanned."""
    out = []
    for name in storage.list_tables(data_dir):
        if only is not None and name not in only:
            continue
        path = storage.table_path(data_dir, name)
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
        known = SCHEMAS.get(name)
        date_col = known.date_column if known else None
        if date_col and date_col not in schema:
            date_col = None
        stats = _footer_stats(Path(path), date_col, schema.get(date_col) if date_col else None)
        if stats is None:
            exprs = [pl.len().alias("rows")]
            if date_col:
                exprs += [pl.col(date_col).min().alias("lo"), pl.col(date_col).max().alias("hi")]
            stats = lf.select(exprs).collect().row(0, named=True)
        quarantine = storage.read_quarantine(data_dir, name)
        columns = []
        for col, dtype in schema.items():
            spec = next((c for c in known.columns if c.name == col), None) if known else None
            columns.append({
                "column": col, "type": _dtype_name(dtype),
                "nullable": bool(spec.nullable) if spec else True,
                "rule": (spec.rule if spec and spec.rule else ""),
                "doc": spec.doc if spec else "",
            })
        out.append({
            "table": name,
            "doc": known.doc if known else "",
            "rows": int(stats["rows"]),
            "date_min": str(stats["lo"]) if stats.get("lo") is not None else None,
            "date_max": str(stats["hi"]) if stats.get("hi") is not None else None,
            "quarantined": 0 if quarantine is None else storage.quarantine_count(data_dir, name),  # exact
            "quarantine_sample": [] if quarantine is None else quarantine.head(20).to_dicts(),
            "columns": columns,
            "size_bytes": path.stat().st_size,
        })
    return out


__all__ = ["model_catalog", "table_catalog"]
