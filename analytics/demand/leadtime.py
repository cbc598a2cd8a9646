"""Lead-time distributions per DC, from the delivery-days model, and how a scenario changes them.

A DC's lead time is the delivery time of its own shipments: the days between an order and its
delivery, as the logistics delivery-days model predicts them (P50 and P90 per order), not a constant.

* Orders: the DC's orders of the ``WINDOW_DAYS`` (91) days before the as-of date; a DC with fewer
  than ``MIN_ORDERS`` there uses the year before the as-of date; a DC with no orders in that year
  uses every DC's orders (said in its ``source``).
* With a trained model: the orders are scored as if placed again in the weeks after the as-of date
  (their dates moved forward by the window's length, so that the model's calendar features, month,
  rainy season and retail peaks, describe the coming weeks). Each order's delivery time is taken as
  log-normal with the predicted P50 as median and the predicted P90 as 90th percentile (a half-day
  spread when the two are the same whole day); the DC's distribution is the mixture over its orders.
* Without one (no ``python app.py train`` yet, or artifacts that fail their hash check) the DC's
  distribution is the empirical distribution of ``actual_days`` of the same orders, and
  :attr:`LeadTimes.fallback` says so and why.

The scenario link (:func:`scenario_lead_times`) runs the scenario Monte Carlo
(:mod:`analytics.scenarios`) for the baseline and the scenario with common random numbers, takes
each destination region's extra mean delivery days, and adds to every order bound for an affected
region an extra delay drawn from an exponential distribution with that mean (waits for a cut road
to reopen are exponential in the simulator). Orders to unaffected regions are untouched, so a DC that
ships nowhere near the scenario keeps exactly its baseline lead time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl

from analytics.engine import Engine

WINDOW_DAYS = 91
WIDE_WINDOW_DAYS = 365
MIN_ORDERS = 30
GRID = 200  # quantile points kept per DC
POINTS_PER_ORDER = 16
Z90 = 1.2815515655446004  # standard normal 90th percentile
SCENARIO_RUNS = 500
ORDER_COLUMNS: tuple[str, ...] = (
    "created_at", "order_date", "country", "region", "category", "quantity", "amount_pen", "discount_pct",
    "shipping_mode", "carrier", "origin_dc", "distance_km", "weight_kg", "promised_days", "actual_days",
)
MODEL_SOURCE = "delivery-days model (P50/P90 per order)"
EMPIRICAL_SOURCE = "empirical actual_days"


def _std_normal_quantiles(n: int) -> np.ndarray:
    from scipy.special import ndtri

    return np.asarray(ndtri((np.arange(n) + 0.5) / n))


@dataclass(frozen=True)
class LeadTime:
    """One DC's lead-time distribution: ``grid`` holds its quantiles at (k + 0.5) / GRID."""

    origin_dc: str
    grid: np.ndarray
    orders: int
    window: tuple[date, date]  # first and last order date used
    source: str

    @property
    def p50(self) -> float:
        return float(np.quantile(self.grid, 0.5))

    @property
    def p90(self) -> float:
        return float(np.quantile(self.grid, 0.9))

    @property
    def mean(self) -> float:
        return float(self.grid.mean())


@dataclass(frozen=True)
class LeadTimes:
    """Lead times of every DC as of a date, with the per-order samples they were built from."""

    as_of: date
    by_dc: dict[str, LeadTime]
    source: str  # MODEL_SOURCE or EMPIRICAL_SOURCE
    fallback: str | None  # why the model was not used (None when it was)
    sample_dc: np.ndarray = field(repr=False)  # [N] DC of each sampled order
    sample_region: np.ndarray = field(repr=False)  # [N] destination region
    sample_days: np.ndarray = field(repr=False)  # [N, POINTS_PER_ORDER] delivery days

    def get(self, dc: str) -> LeadTime:
        if dc not in self.by_dc:
            raise KeyError(f"no lead time for {dc!r}")
        return self.by_dc[dc]

    def table(self) -> pl.DataFrame:
        """origin_dc, lead_time_p50_days, lead_time_p90_days, lead_time_mean_days, orders, source."""
        rows = sorted(self.by_dc.values(), key=lambda x: x.origin_dc)
        return pl.DataFrame({
            "origin_dc": [r.origin_dc for r in rows], "lead_time_p50_days": [r.p50 for r in rows],
            "lead_time_p90_days": [r.p90 for r in rows], "lead_time_mean_days": [r.mean for r in rows],
            "orders": [r.orders for r in rows], "source": [r.source for r in rows],
        })


def _orders_between(engine: Engine, start: date, end: date) -> pl.DataFrame:
    lf = engine.table("orders")
    names = lf.collect_schema().names()
    cols = [c for c in ORDER_COLUMNS if c in names]
    out = engine.collect(lf.filter(nw.col("order_date") >= start, nw.col("order_date") < end).select(cols))
    return out.with_columns(pl.col("origin_dc").cast(pl.String), pl.col("region").cast(pl.String))


def _pick_orders(orders: pl.DataFrame, dcs: list[str], as_of: date) -> tuple[pl.DataFrame, dict[str, tuple[date, str]]]:
    """The orders each DC's lead time is built from, and per DC (window start, note)."""
    recent_start = as_of - timedelta(days=WINDOW_DAYS)
    wide_start = as_of - timedelta(days=WIDE_WINDOW_DAYS)
    parts, info = [], {}
    recent = orders.filter(pl.col("order_date") >= recent_start)
    for dc in dcs:
        r = recent.filter(pl.col("origin_dc") == dc)
        if r.height >= MIN_ORDERS:
            parts.append(r.with_columns(pl.lit(dc).alias("__dc"), pl.lit(recent_start).alias("__start")))
            info[dc] = (recent_start, f"its {r.height} orders of the last {WINDOW_DAYS} days")
            continue
        w = orders.filter(pl.col("origin_dc") == dc)
        if w.height:
            parts.append(w.with_columns(pl.lit(dc).alias("__dc"), pl.lit(wide_start).alias("__start")))
            info[dc] = (wide_start, f"its {w.height} orders of the last {WIDE_WINDOW_DAYS} days (few recent ones)")
        else:
            parts.append(recent.with_columns(pl.lit(dc).alias("__dc"), pl.lit(recent_start).alias("__start")))
            info[dc] = (recent_start, f"every DC's orders of the last {WINDOW_DAYS} days (none from this DC "
                                      f"in the last {WIDE_WINDOW_DAYS} days)")
    if not parts:
        return orders.head(0).with_columns(pl.lit("").alias("__dc"), pl.lit(as_of).alias("__start")), info
    return pl.concat(parts, how="vertical_relaxed"), info


def _model_samples(models: Any, picked: pl.DataFrame, as_of: date) -> np.ndarray:
    """[N, POINTS_PER_ORDER] delivery days per order from the model's P50/P90 (log-normal per order)."""
    from analytics.logistics import score

    shift = (pl.lit(as_of) - pl.col("__start")).cast(pl.Duration("us"))
    moved = picked.with_columns((pl.col("order_date") + shift).cast(pl.Date).alias("order_date"),
                                (pl.col("created_at") + shift).alias("created_at"))
    scored = score(models, moved.drop("__dc", "__start"))
    p50 = np.maximum(scored["p50_days"].to_numpy(), 0.5)
    p90 = np.maximum(scored["p90_days"].to_numpy(), p50)
    sigma = np.where(p90 > p50, np.log(p90 / p50), np.log((p50 + 0.5) / p50)) / Z90
    z = _std_normal_quantiles(POINTS_PER_ORDER)
    return p50[:, None] * np.exp(sigma[:, None] * z[None, :])


def _grid(values: np.ndarray) -> np.ndarray:
    return np.quantile(values.reshape(-1), (np.arange(GRID) + 0.5) / GRID)


def lead_times(engine: Engine, models_dir: Path | str | None, as_of: date, dcs: list[str] | None = None) -> LeadTimes:
    """Lead-time distributions of ``dcs`` (default: every DC with orders) as of ``as_of``.

    ``models_dir`` is the data folder's ``models`` directory (None: use the empirical fallback)."""
    orders = _orders_between(engine, as_of - timedelta(days=WIDE_WINDOW_DAYS), as_of)
    wanted = sorted(set(dcs)) if dcs is not None else sorted(set(orders["origin_dc"].drop_nulls().to_list()))
    if not wanted:
        raise ValueError(f"no orders in the year before {as_of} to measure lead times on")
    picked, info = _pick_orders(orders, wanted, as_of)
    fallback: str | None = None
    samples: np.ndarray | None = None
    if models_dir is None:
        fallback = "no models folder given"
    else:
        from analytics.artifacts import ArtifactError
        from analytics.logistics import ModelsNotTrainedError, load_models

        try:
            models = load_models(models_dir)
        except ModelsNotTrainedError:
            fallback = "no trained delivery-days model (run `python app.py train`)"
        except ArtifactError as exc:
            fallback = f"delivery-days model not loaded: {exc}"
        else:
            samples = _model_samples(models, picked, as_of) if picked.height else np.zeros((0, POINTS_PER_ORDER))
    if samples is None:
        delivered = picked.filter(pl.col("actual_days").is_not_null())
        if delivered.height < picked.height:
            picked = delivered
        samples = np.repeat(picked["actual_days"].cast(pl.Float64).to_numpy()[:, None], POINTS_PER_ORDER, axis=1)
    source = MODEL_SOURCE if fallback is None else EMPIRICAL_SOURCE
    dc_col = picked["__dc"].to_numpy()
    by_dc: dict[str, LeadTime] = {}
    for dc in wanted:
        m = dc_col == dc
        if not m.any():
            continue
        dates = picked.filter(pl.Series(m))["order_date"]
        label = f"{source} over {info[dc][1]}" + (f"; fallback: {fallback}" if fallback else "")
        by_dc[dc] = LeadTime(dc, _grid(samples[m]), int(m.sum()), (dates.min(), dates.max()), label)  # type: ignore[arg-type]
    return LeadTimes(as_of, by_dc, source, fallback, dc_col, picked["region"].to_numpy(), samples)


@dataclass(frozen=True)
class ScenarioLeadTimes:
    """Baseline and scenario lead times side by side (only the affected DCs differ)."""

    baseline: LeadTimes
    scenario: LeadTimes
    extra_days_by_region: dict[str, float]  # mean extra delivery days per order (scenario - baseline, P50 of runs)
    affected_dcs: tuple[str, ...]
    inputs: Any  # analytics.scenarios.ScenarioInputs
    notes: list[str]

    def table(self) -> pl.DataFrame:
        """origin_dc, baseline and scenario P50/P90 lead times, affected."""
        b, s = self.baseline.table(), self.scenario.table()
        return b.select("origin_dc", pl.col("lead_time_p50_days").alias("baseline_p50_days"),
                        pl.col("lead_time_p90_days").alias("baseline_p90_days")).join(
            s.select("origin_dc", pl.col("lead_time_p50_days").alias("scenario_p50_days"),
                     pl.col("lead_time_p90_days").alias("scenario_p90_days")), on="origin_dc").with_columns(
            pl.col("origin_dc").is_in(list(self.affected_dcs)).alias("affected"))


def scenario_lead_times(engine: Engine, base: LeadTimes, inputs: Any, runs: int = SCENARIO_RUNS, seed: int = 0,
                        cache_dir: Path | None = None) -> ScenarioLeadTimes:
    """Lead times under a scenario (:class:`analytics.scenarios.ScenarioInputs`), starting at the as-of date
    unless the inputs say otherwise. Raises analytics.scenarios.CalibrationError when the data cannot
    calibrate the scenario network (e.g. imports without Peruvian regions)."""
    from analytics import geo
    from analytics.scenarios import network, simulate

    net = network(engine, base.as_of, cache_dir=cache_dir)
    scen = simulate(net, inputs, runs, seed)
    ref = simulate(net, inputs.without_changes(), runs, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        days_s = scen.days_sum / np.maximum(scen.orders, 1)
        days_b = ref.days_sum / np.maximum(ref.orders, 1)
    delta = np.median(days_s - days_b, axis=0)  # [regions]; exactly 0 where the scenario changes nothing
    notes = list(net.notes)
    if (delta < 0).any():
        notes.append("regions where the scenario shortens average delivery times (e.g. shipments moved to air) "
                      "keep their baseline lead times")
    extra = {code: float(max(d, 0.0)) for code, d in zip(geo.REGION_CODES, delta)}
    per_order = np.array([extra.get(str(r), 0.0) for r in base.sample_region])
    rng = np.random.default_rng(seed)
    # independent exponential quantiles per order point (stratified, in a fixed random pairing)
    u = (rng.permuted(np.tile(np.arange(POINTS_PER_ORDER), (per_order.size, 1)), axis=1) + 0.5) / POINTS_PER_ORDER
    days = base.sample_days + per_order[:, None] * -np.log1p(-u)
    affected: list[str] = []
    by_dc = dict(base.by_dc)
    for dc, lt in base.by_dc.items():
        m = base.sample_dc == dc
        if not (per_order[m] > 0).any():
            continue
        affected.append(dc)
        by_dc[dc] = replace(lt, grid=_grid(days[m]), source=lt.source + "; scenario: extra days of its affected lanes")
    scenario = replace(base, by_dc=by_dc, sample_days=days)
    return ScenarioLeadTimes(base, scenario, {k: v for k, v in extra.items() if v > 0}, tuple(sorted(affected)),
                             inputs, notes)


__all__ = ["EMPIRICAL_SOURCE", "MODEL_SOURCE", "LeadTime", "LeadTimes", "ScenarioLeadTimes", "lead_times",
           "scenario_lead_times"]
