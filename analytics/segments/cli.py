"""``python app.py segments --data-dir DIR --k K --export FILE.csv`` (contract).

Writes one row per segmented customer (``customer_id,segment``) and prints one JSON line:
k, silhouette, segment_sizes, and the customer counts (customers in the customers table without
any order cannot be segmented; they are counted, not exported).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import polars as pl

from analytics import storage
from analytics.engine.polars_engine import PolarsEngine
from analytics.segments.features import SegmentInputError
from analytics.segments.model import SILHOUETTE_SAMPLE
from analytics.segments.segmentation import SegmentParams, segment_one_k


def write_export(path: Path, customer_ids: pl.Series, segments: list[str]) -> None:
    """Write ``customer_id,segment`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    from analytics.csv_export import frame_csv

    tmp.write_text(frame_csv(pl.DataFrame({"customer_id": customer_ids, "segment": segments})), encoding="utf-8")
    os.replace(tmp, path)


def run(data_dir: Path, k: int, export: Path | None = None, seed: int = 0, lang: str = "en") -> dict[str, Any]:
    """Segment every customer of ``data_dir`` at ``k``; returns the JSON summary."""
    data_dir = Path(data_dir)
    if not storage.has_table(data_dir, "orders"):
        raise SegmentInputError(f"no orders table in {data_dir} (run `python app.py generate --data-dir {data_dir}`)")
    engine = PolarsEngine(data_dir)
    result = segment_one_k(engine, SegmentParams(k=k, seed=seed))
    labels = result.members["label"].to_list()
    names = [result.name(i, lang) for i in range(result.k)]
    if export is not None:
        write_export(export, result.members["customer_id"], [names[i] for i in labels])
    summary: dict[str, Any] = {
        "k": result.k,
        "silhouette": round(result.silhouette, 4),
        "silhouette_sample": min(SILHOUETTE_SAMPLE, result.members.height),
        "segment_sizes": dict(sorted(result.sizes(lang).items(), key=lambda kv: -kv[1])),
        "customers": result.members.height,
        "seed": seed,
    }
    if storage.has_table(data_dir, "customers"):
        known = engine.frame("customers")["customer_id"]
        summary["customers_without_orders"] = int((~known.is_in(result.members["customer_id"].implode())).sum())
    if export is not None:
        summary["export"] = str(export)
    return summary


def cli(args: Any) -> int:
    """Entry point called by app.py with an argparse.Namespace (data_dir, k, export, seed)."""
    try:
        summary = run(Path(args.data_dir), args.k, getattr(args, "export", None), getattr(args, "seed", 0) or 0,
                      getattr(args, "lang", None) or "en")
    except (SegmentInputError, FileNotFoundError) as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False), file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False))
    return 0
