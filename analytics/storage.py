"""Parquet tables under a data directory: write, load with schema checks, quarantine."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analytics.schemas import SCHEMAS, SchemaError, TableSchema

QUARANTINE_DIR = "quarantine"


def table_path(data_dir: Path | str, name: str) -> Path:
    return Path(data_dir) / f"{name}.parquet"


def quarantine_path(data_dir: Path | str, name: str) -> Path:
    return Path(data_dir) / QUARANTINE_DIR / f"{name}.parquet"


def has_table(data_dir: Path | str, name: str) -> bool:
    return table_path(data_dir, name).exists()


def list_tables(data_dir: Path | str) -> list[str]:
    d = Path(data_dir)
    if not d.exists():
        return []
    return sorted(p.stem for p in d.glob("*.parquet"))


def write_table(df: pl.DataFrame, data_dir: Path | str, name: str) -> Path:
    """Write a table atomically (temp file + rename), checking its schema when one is known."""
    schema = SCHEMAS.get(name)
    if schema is not None:
        schema.check_structure(df)
    path = table_path(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    df.write_parquet(tmp, compression="zstd", statistics=True)
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class LoadResult:
    frame: pl.DataFrame
    rows_read: int
    quarantined: int


def load_table(data_dir: Path | str, name: str, schema: TableSchema | None = None) -> LoadResult:
    """Read a table, check its schema, quarantine rows that break it.

    Raises FileNotFoundError if the table does not exist and SchemaError if its structure is wrong.
    Quarantined rows are written to ``quarantine/<name>.parquet`` with ``row_number`` and ``reason``.
    """
    path = table_path(data_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"table {name!r} not found at {path}")
    df = pl.read_parquet(path)
    schema = schema or SCHEMAS.get(name)
    if schema is None:
        return LoadResult(df, df.height, 0)
    good, bad = schema.split(df)
    qpath = quarantine_path(data_dir, name)
    if bad.height:
        qpath.parent.mkdir(parents=True, exist_ok=True)
        bad.write_parquet(qpath)
    return LoadResult(good, df.height, bad.height)


def read_quarantine(data_dir: Path | str, name: str) -> pl.DataFrame | None:
    """Quarantined rows of a table (from load or import), or None if there are none."""
    d = Path(data_dir) / QUARANTINE_DIR
    frames = []
    for pq in (d / f"{name}.parquet", d / f"{name}.import.parquet"):
        if pq.exists():
            f = pl.read_parquet(pq)
            if f.height:
                frames.append(f.select("row_number", "reason", *[c for c in f.columns
                                                                 if c not in ("row_number", "reason")]))
    if not frames:
        return None
    return pl.concat(frames, how="diagonal_relaxed")


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


__all__ = [
    "LoadResult", "SchemaError", "has_table", "list_tables", "load_table", "quarantine_path",
    "read_quarantine", "table_path", "write_json", "write_table",
]
