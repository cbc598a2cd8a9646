"""Queries behind the /logistics page, written once with narwhals over the ``logistics_scores``
table (every order with ``late_risk``, ``p50_days``, ``p90_days``, ``risk_value``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from analytics import geo
from analytics.engine import Engine, Summary
from analytics.logistics.features import GROUPS
from analytics.queries import OrderFilter, scan

SCORES = "logistics_scores"
TOP_N = 100  # grid rows (with per-order reasons); the CSV export has every filtered row
HIGH_RISK = 0.5
RECENT_DAYS = 30
GRID_COLUMNS = (
    "order_id", "order_date", "created_at", "country", "region", "city", "carrier", "shipping_mode",
    "category", "origin_dc", "quantity", "discount_pct", "distance_km", "weight_kg", "amount_pen",
    "promised_days", "late_risk", "risk_value", "p50_days", "p90_days", "is_late", "actual_days",
)
# the value shown next to a reason ("carrier: Rápido Inca")
REASON_VALUE = {"destination": "region", "carrier": "carrier", "shipping_mode": "shipping_mode",
                "origin_dc": "origin_dc", "category": "category", "season": "order_date",
                "weekday": "order_date", "peak": "order_date", "disruption": "region",
                "parcel": "weight_kg", "promise": "promised_days"}


def scored(engine: Engine, flt: OrderFilter | None = None) -> nw.LazyFrame[Any]:
    return scan(engine, SCORES, flt)


# The page's filter choices and date bounds in one pass over the scores (once per version of the table).
OPTIONS = Summary(SCORES, ("country", "carrier", "shipping_mode", "category", "origin_dc"), (
    nw.len().alias("orders"), nw.col("order_date").min().alias("lo"), nw.col("order_date").max().alias("hi")))


@dataclass(frozen=True)
class FilterOptions:
    """The page's filter choices (sorted) and the date bounds of the scored orders."""

    carriers: list[str]
    modes: list[str]
    categories: list[str]
    dcs: list[str]
    min_date: date | None
    max_date: date | None
    peru: bool  # every order ships within Peru (the map can draw them all)


def options(engine: Engine) -> FilterOptions:
    """Filter choices and date bounds, from the scores table (``OPTIONS``: one pass per version)."""
    summ = engine.summary(OPTIONS)
    values: dict[str, list[str]] = {}
    for key, col in (("carriers", "carrier"), ("modes", "shipping_mode"), ("categories", "category"),
                     ("dcs", "origin_dc")):
        values[key] = [str(v) for v in summ[col].drop_nulls().unique().sort().to_list()]
    known = summ.filter(pl.col("country").is_not_null())
    total = int(known["orders"].sum()) if known.height else 0
    pe = int(known.filter(pl.col("country") == "PE")["orders"].sum()) / total if total else None
    return FilterOptions(**values, min_date=summ["lo"].min() if summ.height else None,  # type: ignore[arg-type]
                         max_date=summ["hi"].max() if summ.height else None,  # type: ignore[arg-type]
                         peru=bool(pe is not None and pe >= 0.999))


def last_date(engine: Engine) -> date | None:
    """The latest order date in the scores table."""
    summ = engine.summary(OPTIONS)
    return summ["hi"].max() if summ.height else None  # type: ignore[return-value]


def default_filter(max_date: date | None) -> OrderFilter:
    """Recent orders: the last RECENT_DAYS days of data."""
    if max_date is None:
        return OrderFilter()
    return OrderFilter(start=max_date - timedelta(days=RECENT_DAYS - 1), end=max_date)


def region_summary(engine: Engine, flt: OrderFilter | None = None) -> pl.DataFrame:
    """Per (country, region): orders, value_pen, mean_risk, expected_late, late_rate (known outcomes),
    high_risk orders, and the carrier with the most excess expected late orders there."""
    base = scored(engine, flt)
    per_carrier = engine.collect(
        base.group_by("country", "region", "carrier").agg(
            nw.len().alias("orders"),
            nw.col("amount_pen").sum().alias("value_pen"),
            nw.col("late_risk").sum().alias("expected_late"),
            (nw.col("late_risk") >= HIGH_RISK).cast(nw.Int64).sum().alias("high_risk"),
            nw.col("is_late").cast(nw.Int64).sum().alias("late"),
            nw.col("is_late").count().alias("known"),
        )
    )
    return summarise_regions(per_carrier)


def summarise_regions(per_carrier: pl.DataFrame) -> pl.DataFrame:
    """Roll (region, carrier) sums up to regions (small frame, Polars)."""
    schema: dict[str, Any] = {"country": pl.String, "region": pl.String, "orders": pl.Int64, "value_pen": pl.Float64,
              "expected_late": pl.Float64, "high_risk": pl.Int64, "late": pl.Int64, "known": pl.Int64,
              "mean_risk": pl.Float64, "late_rate": pl.Float64, "top_carrier": pl.String,
              "top_carrier_risk": pl.Float64}
    if per_carrier.height == 0:
        return pl.DataFrame(schema=schema)
    regions = per_carrier.group_by("country", "region").agg(
        pl.col("orders", "value_pen", "expected_late", "high_risk", "late", "known").sum()
    ).with_columns(
        (pl.col("expected_late") / pl.col("orders")).alias("mean_risk"),
        pl.when(pl.col("known") > 0).then(pl.col("late") / pl.col("known")).alias("late_rate"),
    )
    worst = (
        per_carrier.join(regions.select("country", "region", pl.col("mean_risk").alias("region_risk")),
                         on=["country", "region"])
        .with_columns((pl.col("expected_late") - pl.col("orders") * pl.col("region_risk")).alias("excess"),
                      (pl.col("expected_late") / pl.col("orders")).alias("top_carrier_risk"))
        .sort(["excess", "carrier"], descending=[True, False])
        .group_by("country", "region", maintain_order=True).first()
        .select("country", "region", pl.col("carrier").alias("top_carrier"), "top_carrier_risk")
    )
    out = regions.join(worst, on=["country", "region"], how="left")
    return out.select(list(schema)).cast(pl.Schema(schema)).sort(["mean_risk", "region"], descending=[True, False])


def kpis(regions: pl.DataFrame) -> dict[str, float | int | None]:
    orders = int(regions["orders"].sum()) if regions.height else 0
    known = int(regions["known"].sum()) if regions.height else 0
    exp = float(regions["expected_late"].sum()) if regions.height else 0.0
    return {"orders": orders, "value_pen": float(regions["value_pen"].sum()) if regions.height else 0.0,
            "mean_risk": exp / orders if orders else None, "expected_late": exp,
            "high_risk": int(regions["high_risk"].sum()) if regions.height else 0,
            "late_rate": float(regions["late"].sum()) / known if known else None}


def top_orders(engine: Engine, flt: OrderFilter | None = None, limit: int | None = TOP_N) -> pl.DataFrame:
    """Filtered orders by risk × value (late_risk × amount_pen), highest first."""
    lf = scored(engine, flt).sort(["risk_value", "order_id"], descending=[True, False])
    if limit is not None:
        lf = lf.head(limit)
    return engine.collect(lf.select(*GRID_COLUMNS))


def add_reasons(models: Any, frame: pl.DataFrame, top: int = 3, batch: int = 100_000) -> pl.DataFrame:
    """Append reason_k (feature group) and reason_k_pp (+probability points) for k = 1..top."""
    groups: list[list[str | None]] = [[] for _ in range(top)]
    pps: list[list[float | None]] = [[] for _ in range(top)]
    from analytics.logistics import BATCH_THREADS

    threads = BATCH_THREADS if frame.height > 10_000 else None  # exports: every core
    for start in range(0, frame.height, batch):
        _, reasons = models.late_risk.explain(frame.slice(start, batch), top=top, threads=threads)
        for rs in reasons:
            for k in range(top):
                groups[k].append(rs[k][0] if k < len(rs) else None)
                pps[k].append(round(100 * rs[k][1], 1) if k < len(rs) else None)
    cols = []
    for k in range(top):
        cols.append(pl.Series(f"reason_{k + 1}", groups[k], dtype=pl.String))
        cols.append(pl.Series(f"reason_{k + 1}_pp", pps[k], dtype=pl.Float64))
    return frame.with_columns(cols)


@dataclass(frozen=True)
class LogisticsView:
    regions: pl.DataFrame
    orders: pl.DataFrame  # top rows by risk × value, with reasons
    kpis: dict[str, float | int | None]


def logistics_view(engine: Engine, models_dir: Path | str, flt: OrderFilter | None = None,
                   limit: int = TOP_N) -> LogisticsView:
    """Everything the filter change redraws: regions (map), KPIs, top orders with reasons."""
    from analytics.logistics import load_models

    regions = region_summary(engine, flt)
    rows = top_orders(engine, flt, limit)
    rows = add_reasons(load_models(models_dir), rows)
    return LogisticsView(regions, rows, kpis(regions))


def export_orders(engine: Engine, models_dir: Path | str, flt: OrderFilter | None = None) -> pl.DataFrame:
    """ALL filtered orders (not just the grid's page), by risk × value, with reasons."""
    from analytics.logistics import load_models

    rows = top_orders(engine, flt, None)
    return add_reasons(load_models(models_dir), rows)


def region_drilldown(engine: Engine, flt: OrderFilter | None, region: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(carrier × mode heat table, weekly trend) for one region under the current filters."""
    lf = scored(engine, flt).filter(nw.col("region") == region)
    heat = engine.collect(
        lf.group_by("carrier", "shipping_mode").agg(
            nw.len().alias("orders"),
            nw.col("is_late").cast(nw.Float64).mean().alias("late_rate"),
            nw.col("late_risk").mean().alias("mean_risk"),
        ).sort("carrier", "shipping_mode")
    )
    daily = engine.collect(
        lf.group_by("order_date").agg(
            nw.len().alias("orders"),
            nw.col("is_late").cast(nw.Int64).sum().alias("late"),
            nw.col("is_late").count().alias("known"),
            nw.col("late_risk").sum().alias("risk_sum"),
        )
    )
    # roll days into ISO weeks (Monday) on the small daily frame
    weekly = (
        daily.with_columns(pl.col("order_date").dt.truncate("1w").alias("week"))
        .group_by("week").agg(pl.col("orders", "late", "known", "risk_sum").sum())
        .with_columns(pl.when(pl.col("known") > 0).then(pl.col("late") / pl.col("known")).alias("late_rate"),
                      (pl.col("risk_sum") / pl.col("orders")).alias("mean_risk"))
        .select("week", "orders", "late_rate", "mean_risk").sort("week")
    )
    return heat, weekly


def region_name(code: str) -> str:
    r = geo.REGION_BY_CODE.get(code)
    return r.name if r else code


__all__ = ["GROUPS", "LogisticsView", "add_reasons", "default_filter", "export_orders", "kpis",
           "logistics_view", "options", "region_drilldown", "region_summary", "summarise_regions",
           "top_orders"]


def prepare(engine: Engine) -> bool:
    """Make sure the scores table matches the current orders and models (rescore if stale).

    Raises analytics.logistics.ModelsNotTrainedError before training. Returns True if it rescored.
    """
    from analytics.logistics.scores_table import refresh_scores

    changed = refresh_scores(engine.data_dir)
    if changed:
        engine.invalidate()
    return changed


def page_options(engine: Engine) -> FilterOptions:
    """Page load: refresh scores if stale, then the filter choices and date bounds."""
    prepare(engine)
    return options(engine)


@dataclass(frozen=True)
class ModelPanel:
    """The model panel: the model card's logistics part and the report's curves, hash-verified."""

    card: dict[str, Any]  # the card document (late_risk, delivery_days, data_fingerprint, created_at, version)
    calibration: dict[str, Any]  # reliability curve (see train.read_report)
    roc: dict[str, Any]
    importance: dict[str, Any]

    @property
    def roc_auc(self) -> float | None:
        """The late-risk model's ROC AUC on the test months, if the card has it."""
        value = (self.card.get("late_risk") or {}).get("roc_auc")
        return None if value is None else float(value)


def model_panel(models_dir: Path | str) -> ModelPanel:
    """The model card (logistics part) and the curves/importance report, hash-verified."""
    import json

    from analytics.datadir import LOGISTICS_META, MODEL_CARD, logistics_models
    from analytics.logistics.train import read_report

    models_dir = Path(models_dir)
    meta_path = logistics_models(models_dir) / LOGISTICS_META
    if not meta_path.exists():
        from analytics.logistics import ModelsNotTrainedError

        raise ModelsNotTrainedError(f"no logistics models in {models_dir}")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    card = dict(meta["card"])
    card_path = models_dir / MODEL_CARD
    if card_path.exists():
        full = json.loads(card_path.read_text(encoding="utf-8"))
        if "late_risk" in full:
            card = {k: full[k] for k in ("late_risk", "delivery_days", "data_fingerprint", "created_at", "version")
                    if k in full}
    report = read_report(models_dir) or {}
    return ModelPanel(card=card, calibration=report.get("calibration", {}), roc=report.get("roc", {}),
                      importance=report.get("importance", {}))
