"""Quality at arrival of the demo shipments, derived from the traceability tables (table ``trace_quality``).

The demo journeys (:mod:`analytics.traceability.demo_lots`) follow each shipment over its sea voyage to the
buyer. For every shipment the buyer has received, the ground truth (remaining shelf life and grade,
:func:`analytics.shelflife.truth.arrival_quality`) is computed from the shipment's own temperature readings
as the tables hold them (:func:`analytics.shelflife.shipments.demo_lot_history`: the lot's readings up to
loading, its voyage logger and its delivery readings; readings of the lot's other shipments left out), in the
world whose seed ``trace_world.json`` keeps (:func:`world_info`). The rows are in ``shipment_id`` order, which
fixes the truth's noise draws, so anyone can re-derive the table from the tables' own readings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics.datadir import DataDir
from analytics.shelflife.shipments import shipment_histories

QUALITY = "trace_quality"


def world_info(data_dir: Path | str) -> dict[str, Any]:
    """The demo world's seeds and as-of time (``trace_world.json``); FileNotFoundError when not generated."""
    path = DataDir(Path(data_dir)).trace_world
    info = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(info, dict) or not isinstance(info.get("world_seed"), int):
        raise ValueError(f"{path.name} names no integer world_seed")
    return info


def quality_table(data_dir: Path | str, world_seed: int | None = None) -> pl.DataFrame:
    """The ``trace_quality`` rows: truth at arrival of every received shipment (observed readings only)."""
    from analytics.shelflife.truth import arrival_quality, draw_world

    seed = world_info(data_dir)["world_seed"] if world_seed is None else int(world_seed)
    lots, readings = shipment_histories(data_dir)
    if lots.is_empty() or not lots["arrived"].any():
        return pl.DataFrame(schema=_schema())
    arrived = lots.filter(pl.col("arrived"))
    obs = readings.filter(~pl.col("planned") & pl.col("lot_id").is_in(arrived["lot_id"].to_list()))
    truth = arrival_quality(arrived, obs, draw_world(seed), seed=seed)
    counts = obs.group_by("lot_id").len()

    def after_harvest(hours: str) -> pl.Expr:
        return pl.col("harvest_time") + pl.duration(microseconds=(pl.col(hours) * 3.6e9).round(0).cast(pl.Int64))

    out = arrived.join(truth, on="lot_id", how="left").join(counts, on="lot_id", how="left")
    out = out.with_columns(
        after_harvest("departure_hours").alias("departure_time"),
        after_harvest("transit_hours").alias("arrival_time"),
        (pl.col("transit_hours") / 24.0).alias("transit_days"),
        pl.col("len").fill_null(0).cast(pl.Int64).alias("readings"),
        pl.lit(seed, dtype=pl.Int64).alias("world_seed"),
        pl.col("lot_id").alias("shipment_id"),
    )
    return out.select(list(_schema())).cast(_schema())


def _schema() -> pl.Schema:
    from analytics.traceability.schemas import TRACE_QUALITY

    return pl.Schema({c.name: c.dtype for c in TRACE_QUALITY.columns})


def write_quality(data_dir: Path | str) -> int:
    """Write ``trace_quality`` from the tables and ``trace_world.json``; returns its row count."""
    from analytics import storage

    df = quality_table(data_dir)
    storage.write_table(df, Path(data_dir), QUALITY)
    return df.height


def recorded_quality(data_dir: Path | str) -> dict[str, tuple[float, str]]:
    """Shipment id -> (remaining days, grade) recorded at arrival; empty without a ``trace_quality`` table."""
    from analytics import storage

    if not storage.has_table(Path(data_dir), QUALITY):
        return {}
    df = pl.read_parquet(storage.table_path(Path(data_dir), QUALITY),
                         columns=["shipment_id", "remaining_days", "grade"])
    return {sid: (float(r), str(g)) for sid, r, g in df.iter_rows()}


def evaluation_set(data_dir: Path | str) -> tuple[pl.DataFrame, np.ndarray]:
    """(features, recorded remaining days) of the received shipments, with features built as the forecasts build
    them (observed readings, gaps over the hold cap unobserved); empty when nothing has arrived."""
    from analytics.shelflife.features import exposures, feature_frame

    lots, readings = shipment_histories(data_dir)
    recorded = recorded_quality(data_dir)
    if lots.is_empty():
        return pl.DataFrame(), np.zeros(0)
    arrived = lots.filter(pl.col("arrived") & pl.col("lot_id").is_in(list(recorded)))
    if arrived.is_empty():
        return pl.DataFrame(), np.zeros(0)
    obs = readings.filter(pl.col("lot_id").is_in(arrived["lot_id"].to_list()))
    feats = feature_frame(arrived, exposures(obs, arrived))
    return feats, np.array([recorded[s][0] for s in arrived["lot_id"].to_list()])


__all__ = ["QUALITY", "evaluation_set", "quality_table", "recorded_quality", "world_info", "write_quality"]
