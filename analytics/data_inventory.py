"""What the Data page lists: every table with rows, date range, schema, quarantine; every model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from analytics import storage
from analytics.model_card import model_catalog
from analytics.schemas import SCHEMAS


def _dtype_name(dtype: Any) -> str:
    return str(dtype)


def table_catalog(data_dir: Path | str) -> list[dict[str, Any]]:
    """One entry per Parquet table in the data directory."""
    out = []
    for name in storage.list_tables(data_dir):
        path = storage.table_path(data_dir, name)
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
        known = SCHEMAS.get(name)
        date_col = known.date_column if known else None
        exprs = [pl.len().alias("rows")]
        if date_col and date_col in schema:
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
            "quarantined": 0 if quarantine is None else quarantine.height,
            "quarantine_sample": [] if quarantine is None else quarantine.head(20).to_dicts(),
            "columns": columns,
            "size_bytes": path.stat().st_size,
        })
    return out


__all__ = ["model_catalog", "table_catalog"]
