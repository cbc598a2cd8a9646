"""What the Data page lists: every table with rows, date range, schema, quarantine; every model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from analytics import storage
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


def model_catalog(data_dir: Path | str) -> list[dict[str, Any]]:
    """Every trained model: from the model card and the artifact manifests in DIR/models/."""
    models_dir = Path(data_dir) / "models"
    if not models_dir.exists():
        return []
    out: list[dict[str, Any]] = []
    card_path = models_dir / "model_card.json"
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
    for key, value in card.items():
        if isinstance(value, dict) and key != "skipped":
            metrics = {k: v for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            out.append({"model": key, "kind": str(value.get("model", "")), "metrics": metrics,
                        "created_at": card.get("created_at"), "source": "model_card.json"})
    for manifest in sorted(models_dir.glob("*.manifest.json")):
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError:
            continue
        name = m.get("name") or manifest.name.removesuffix(".manifest.json")
        if any(o["model"] == name for o in out):
            continue
        metrics = {k: v for k, v in (m.get("metrics") or {}).items() if isinstance(v, (int, float))}
        out.append({"model": name, "kind": str(m.get("kind", "")), "metrics": metrics,
                    "created_at": m.get("created_at"), "source": manifest.name})
    return out
