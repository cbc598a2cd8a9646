"""What the ``/demand`` page shows, from one call: :func:`demand_page`.

The page's callback unpacks its inputs (as-of date, horizon, service level, scenario preset, an
uploaded on-hand CSV) and calls :func:`demand_page`, which returns a :class:`DemandPage` with every
table the page draws: the forecast with its band and the actuals per series, the backtest of every
candidate, the stock table, lead times, and baseline-versus-scenario stock when a scenario is chosen.
The forecast comes from the data folder's demand cache (fitting the models takes seconds; moving the
service-level slider must not refit them). Options for the page's controls come from
:func:`page_options`, never from copies in the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from analytics.datadir import DataDir
from analytics.demand.backtest import COVERAGE_RANGE, RELATIVE_MAE_MAX
from analytics.demand.leadtime import LeadTimes, ScenarioLeadTimes, lead_times, scenario_lead_times
from analytics.demand.stock import (
    DEFAULT_SERVICE_LEVEL,
    SERVICE_LEVEL_RANGE,
    OnHandImport,
    StockInputError,
    StockPlan,
    read_on_hand,
    stock_plan,
)
from analytics.demand.weekly_forecast import DEFAULT_HORIZON, MAX_HORIZON, DemandForecast, cached_forecast
from analytics.engine import Engine

SERVICE_LEVEL_MARKS: tuple[float, ...] = (0.8, 0.9, 0.95, 0.98, 0.99)


@dataclass(frozen=True)
class DemandPage:
    forecast: DemandForecast
    lead_times: LeadTimes
    stock: StockPlan
    scenario: ScenarioLeadTimes | None = None
    scenario_stock: StockPlan | None = None
    on_hand: OnHandImport | None = None

    def series_chart(self, origin_dc: str, category: str, weeks: int = 52) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(actuals: week_start, units; forecast: week_start, p10, p50, p90) of one series."""
        keep = (pl.col("origin_dc") == origin_dc) & (pl.col("category") == category)
        actual = self.forecast.actuals(weeks).filter(keep).select("week_start", "units")
        fc = self.forecast.table().filter(keep).select("week_start", "p10", "p50", "p90")
        if fc.height == 0:
            raise KeyError(f"no series {origin_dc} x {category}")
        return actual, fc

    def backtest_table(self) -> pl.DataFrame:
        """One row per candidate model: series-level and national relative MAE and coverage, chosen."""
        bt = self.forecast.backtest
        rows = [{"model": c.model, "chosen": c.model == bt.chosen,
                 "relative_mae": c.series.relative_mae, "coverage_80": c.series.coverage_80,
                 "national_relative_mae": c.total.relative_mae, "national_coverage_80": c.total.coverage_80,
                 "meets_targets": c.series.meets_targets(), "fit_seconds": c.fit_seconds}
                for c in bt.candidates.values()]
        return pl.DataFrame(rows)

    def per_series_table(self) -> pl.DataFrame:
        """The chosen model's backtest per series (origin_dc, category, relative_mae, coverage_80, ...)."""
        return self.forecast.backtest.best.per_series

    def stock_comparison(self) -> pl.DataFrame:
        """Baseline and scenario safety stock / reorder point / lead times per series (scenario chosen)."""
        if self.scenario is None or self.scenario_stock is None:
            raise ValueError("no scenario chosen")
        keys = ["origin_dc", "category"]
        cols = ["safety_stock", "reorder_point", "lead_time_p50_days", "lead_time_p90_days"]
        base = self.stock.table().select(*keys, *[pl.col(c).alias(f"baseline_{c}") for c in cols])
        scen = self.scenario_stock.table().select(*keys, *[pl.col(c).alias(f"scenario_{c}") for c in cols])
        return base.join(scen, on=keys).with_columns(
            pl.col("origin_dc").is_in(list(self.scenario.affected_dcs)).alias("affected"))


def page_options() -> dict[str, Any]:
    """Limits and choices of the page's controls (horizon, service level, scenario presets), and the targets."""
    from analytics.scenarios import presets

    return {"horizon": {"min": 1, "max": MAX_HORIZON, "default": DEFAULT_HORIZON},
            "service_level": {"min": SERVICE_LEVEL_RANGE[0], "max": SERVICE_LEVEL_RANGE[1],
                              "default": DEFAULT_SERVICE_LEVEL, "marks": list(SERVICE_LEVEL_MARKS)},
            "scenario_presets": sorted(presets()),
            "targets": {"relative_mae_max": RELATIVE_MAE_MAX, "coverage_80": list(COVERAGE_RANGE)}}


def demand_page(engine: Engine, data_dir: Path | str, *, as_of: date | None = None, horizon: int = DEFAULT_HORIZON,
                service_level: float = DEFAULT_SERVICE_LEVEL, scenario: str | Any | None = None,
                on_hand: bytes | None = None, seed: int = 0, cache_dir: Path | None = None, use_cache: bool = True,
                progress: Callable[[str, float], None] | None = None) -> DemandPage:
    """Everything the page shows. ``scenario`` is a preset name (analytics.scenarios.presets) or the
    :class:`analytics.scenarios.ScenarioInputs` of a scenario built on ``/scenarios`` (its URL state parses
    with ``ScenarioInputs.from_query``), replayed from the forecast's as-of date; ``on_hand`` the bytes of an uploaded ``origin_dc,category,on_hand_units`` CSV;
    ``cache_dir`` the cache folder for the forecast and the scenario network (default ``DIR/.cache``).

    Raises DemandDataError (data), StockInputError (service level), ScenarioError (unknown preset)."""
    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    if not SERVICE_LEVEL_RANGE[0] <= float(service_level) <= SERVICE_LEVEL_RANGE[1]:
        raise StockInputError(f"service level must be between {SERVICE_LEVEL_RANGE[0]} and "
                              f"{SERVICE_LEVEL_RANGE[1]}, got {service_level}")
    fc = cached_forecast(data_dir, engine, as_of, horizon, seed, use_cache,
                         progress=lambda label, frac: report(label, 0.8 * frac), cache_dir=cache_dir)
    report("lead times", 0.85)
    leads = lead_times(engine, DataDir(data_dir).models, fc.as_of, sorted({k[0] for k in fc.keys}))
    held = read_on_hand(on_hand, set(fc.keys)) if on_hand is not None else None
    plan = stock_plan(fc, leads, service_level, held)
    linked = scen_plan = None
    if scenario:
        from analytics.scenarios import get_preset

        report("scenario", 0.9)
        inputs = get_preset(scenario).inputs if isinstance(scenario, str) else scenario
        linked = scenario_lead_times(engine, leads, inputs.replace(start=fc.as_of), seed=seed, cache_dir=cache_dir)
        scen_plan = stock_plan(fc, linked.scenario, service_level, held)
    report("done", 1.0)
    return DemandPage(fc, leads, plan, linked, scen_plan, held)


__all__ = ["SERVICE_LEVEL_MARKS", "DemandPage", "demand_page", "page_options"]
