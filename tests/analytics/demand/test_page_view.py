"""The page's one call, the model card section, and the forecast cache they share with the commands."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics import storage
from analytics.datadir import CacheDir, DataDir
from analytics.demand.page_view import demand_page, page_options
from analytics.demand.trainer import train
from analytics.demand.weekly_forecast import cached_forecast
from analytics.engine.polars_engine import PolarsEngine
from analytics.scenarios import ScenarioInputs


def test_demand_page_on_dataco(dataco_dir):
    data, units = dataco_dir
    engine = PolarsEngine(data)
    page = demand_page(engine, data, service_level=0.9,
                       on_hand=b"origin_dc,category,on_hand_units\nLATAM,Cleats,40\nLATAM,Cleats,41\n")
    assert page.forecast.n_series == len(units) and page.forecast.horizon == 8
    actual, fc = page.series_chart("LATAM", "Cleats")
    assert actual.height == 52 and fc.height == 8 and (fc["p10"] <= fc["p90"]).all()
    with pytest.raises(KeyError):
        page.series_chart("LATAM", "Nope")
    bt = page.backtest_table()
    assert bt["model"].to_list() == ["gradient_boosting", "seasonal_naive", "ets_croston"]
    assert bt.filter(pl.col("chosen"))["model"].to_list() == [page.forecast.model]
    assert page.per_series_table().height == len(units)
    assert page.on_hand is not None and page.on_hand.rows_in == 2 and len(page.on_hand.quarantined) == 1
    cleats = page.stock.table().filter((pl.col("origin_dc") == "LATAM") & (pl.col("category") == "Cleats"))
    assert cleats["days_of_cover"].item() == pytest.approx(40 / cleats["demand_per_day"].item())
    with pytest.raises(ValueError, match="no scenario"):
        page.stock_comparison()
    opts = page_options()
    assert opts["horizon"] == {"min": 1, "max": 12, "default": 8} and "blockade-south-2022" in opts["scenario_presets"]


def test_model_card_section_from_the_trainer(dataco_dir):
    data, _ = dataco_dir
    fc = cached_forecast(data, PolarsEngine(data), None, 8)
    section = train(data)["demand"]
    s, t = fc.scores
    assert section["model"] == fc.model and section["relative_mae"] == round(s.relative_mae, 4)
    assert section["coverage_80"] == round(s.coverage_80, 4) and section["national"]["relative_mae"] == round(
        t.relative_mae, 4)
    assert set(section["candidates"]) == {"gradient_boosting", "seasonal_naive", "ets_croston"}
    assert section["as_of"] == "2017-12-25" and section["series"] == fc.n_series


def test_python_app_py_train_runs_the_demand_trainer():
    from analytics.training import default_trainers

    assert train in default_trainers()


def test_too_short_a_history_skips_training_with_the_reason(seed_dirs, tmp_path: Path):
    from analytics.training import SkipTraining

    d = tmp_path / "data"
    shutil.copytree(seed_dirs[1], d)
    orders = storage.load_table(d, "orders").frame
    storage.write_table(orders.filter(pl.col("order_date") >= date(2024, 1, 1)), d, "orders")
    with pytest.raises(SkipTraining, match="a backtest needs 99 complete weeks"):
        train(d)


def test_demand_page_with_a_scenario_shows_baseline_and_scenario_stock(forecast1, forecast1_dir, tmp_path: Path):
    engine = PolarsEngine(forecast1_dir)
    # the page's own cache folder (the scenario network lands there), holding forecast1 as the data folder's does
    shutil.copytree(DataDir(forecast1_dir).cache.demand, CacheDir(tmp_path).demand)
    page = demand_page(engine, forecast1_dir, horizon=12, scenario="blockade-south-2022", cache_dir=tmp_path)
    assert page.forecast.summary() == forecast1.summary()
    assert page.forecast.elapsed_s == forecast1.elapsed_s  # from the cache: not fitted a second time
    np.testing.assert_array_equal(page.forecast.series, forecast1.series)
    table = page.stock_comparison()
    assert table.height == 72 and set(table.filter(pl.col("affected"))["origin_dc"]) == set(page.scenario.affected_dcs)
    hit, calm = table.filter(pl.col("affected")), table.filter(~pl.col("affected"))
    assert (hit["scenario_reorder_point"] > hit["baseline_reorder_point"]).all()
    assert (calm["scenario_reorder_point"] == calm["baseline_reorder_point"]).all()
    assert {"DC-AQP", "DC-CUZ"} <= set(page.scenario.affected_dcs) and "DC-PIU" not in page.scenario.affected_dcs
    # a scenario built on /scenarios, from its URL state
    built = ScenarioInputs.from_query("blockade_regions=PE-CUS&blockade_days=20&horizon_weeks=4")
    cusco = demand_page(engine, forecast1_dir, horizon=12, scenario=built, cache_dir=tmp_path)
    assert "DC-CUZ" in cusco.scenario.affected_dcs and "DC-AQP" not in cusco.scenario.affected_dcs
    assert set(cusco.scenario.extra_days_by_region) == {"PE-CUS"}
