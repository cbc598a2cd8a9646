"""Lead times per DC, safety stock and reorder points, the scenario link and the on-hand CSV."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics import storage
from analytics.demand.leadtime import EMPIRICAL_SOURCE, MODEL_SOURCE, lead_times, scenario_lead_times
from analytics.demand.stock import StockInputError, read_on_hand, reorder_point, stock_plan
from analytics.engine.polars_engine import PolarsEngine
from analytics.scenarios import ScenarioInputs

SOUTH = ("PE-APU", "PE-ARE", "PE-CUS", "PE-ICA", "PE-PUN")


@pytest.fixture(scope="module")
def leads1(seed_dirs, forecast1):
    """Seed 1 has no trained models: the empirical fallback."""
    return lead_times(PolarsEngine(seed_dirs[1]), seed_dirs[1] / "models", forecast1.as_of)


def test_without_a_trained_model_lead_times_are_the_empirical_delivery_days(seed_dirs, forecast1, leads1):
    assert leads1.source == EMPIRICAL_SOURCE and "no trained delivery-days model" in leads1.fallback
    assert set(leads1.by_dc) == {k[0] for k in forecast1.keys}
    orders = storage.load_table(seed_dirs[1], "orders").frame
    start = forecast1.as_of - timedelta(days=91)
    recent = orders.filter((pl.col("order_date") >= start) & (pl.col("order_date") < forecast1.as_of))
    for dc in ("DC-LIM", "DC-CUZ"):
        days = recent.filter(pl.col("origin_dc") == dc)["actual_days"].to_numpy()
        lt = leads1.get(dc)
        assert lt.orders == days.size and lt.mean == pytest.approx(days.mean(), rel=0.02)
        assert lt.p90 == pytest.approx(np.quantile(days, 0.9), abs=0.51)
        assert "fallback: no trained delivery-days model" in lt.source
    assert leads1.get("DC-CUZ").p50 > leads1.get("DC-LIM").p50  # the sierra is further than Lima's own city


def test_with_a_trained_model_lead_times_come_from_its_p50_p90(trained_small_dir):
    from analytics.logistics import load_models, score

    engine = PolarsEngine(trained_small_dir)
    as_of = date(2024, 12, 30)
    leads = lead_times(engine, trained_small_dir / "models", as_of)
    assert leads.source == MODEL_SOURCE and leads.fallback is None
    lim = leads.get("DC-LIM")
    assert lim.source.startswith(MODEL_SOURCE)
    # the mixture's median sits among the orders' predicted P50s, its P90 at or under their largest P90
    orders = storage.load_table(trained_small_dir, "orders").frame
    recent = orders.filter((pl.col("order_date") >= as_of - timedelta(days=91))
                           & (pl.col("order_date") < as_of) & (pl.col("origin_dc") == "DC-LIM"))
    pred = score(load_models(trained_small_dir / "models"), recent)
    assert lim.orders == recent.height
    assert pred["p50_days"].min() <= lim.p50 <= pred["p50_days"].max()
    assert np.quantile(pred["p50_days"].to_numpy(), 0.5) - 1 <= lim.p50 <= np.quantile(pred["p90_days"], 0.5) + 1
    assert lim.p90 <= pred["p90_days"].max() * 1.5 and lim.p90 > lim.p50


def test_reorder_points_rise_with_the_service_level(forecast1, leads1):
    levels = (0.8, 0.9, 0.95, 0.99)
    plans = [stock_plan(forecast1, leads1, sl).table() for sl in levels]
    for a, b in zip(plans, plans[1:]):
        assert (b["reorder_point"] > a["reorder_point"]).all()
        assert (b["safety_stock"] > a["safety_stock"]).all()
    assert plans[0].height == 72
    np.testing.assert_allclose(plans[2]["reorder_point"] - plans[2]["safety_stock"],
                               plans[2]["demand_per_day"] * plans[2]["lead_time_mean_days"], rtol=1e-9)


def test_reorder_points_rise_with_longer_lead_times(forecast1, leads1):
    longer = replace(leads1, by_dc={dc: replace(lt, grid=lt.grid + 2.0) for dc, lt in leads1.by_dc.items()})
    base = stock_plan(forecast1, leads1, 0.95).table()
    slow = stock_plan(forecast1, longer, 0.95).table()
    assert (slow["reorder_point"] > base["reorder_point"]).all()
    assert slow["lead_time_p90_days"].to_list() == pytest.approx((base["lead_time_p90_days"] + 2.0).to_list())


def test_reorder_point_is_the_service_level_quantile_of_lead_time_demand():
    """Against a Monte Carlo of the same model: L from the grid, demand normal with the weekly error."""
    rng = np.random.default_rng(0)
    grid = np.sort(rng.gamma(4.0, 1.0, 200))
    rop = reorder_point(10.0, 12.0, grid, 0.95)
    L = rng.choice(grid, 400_000)
    demand = rng.normal(10.0 * L, 12.0 * np.sqrt(L / 7.0))
    assert (demand <= rop).mean() == pytest.approx(0.95, abs=0.003)
    with pytest.raises(StockInputError, match="service level"):
        reorder_point(10.0, 12.0, grid, 1.0)


def test_a_southern_blockade_changes_only_the_dcs_that_ship_south(seed_dirs, forecast1, leads1, tmp_path: Path):
    engine = PolarsEngine(seed_dirs[1])
    inputs = ScenarioInputs(blockade_regions=SOUTH, blockade_days=20, horizon_weeks=4, start=forecast1.as_of)
    linked = scenario_lead_times(engine, leads1, inputs, runs=300, cache_dir=tmp_path / "cache")
    assert set(linked.extra_days_by_region) == set(SOUTH)
    orders = storage.load_table(seed_dirs[1], "orders").frame
    recent = orders.filter(pl.col("order_date") >= forecast1.as_of - timedelta(days=91))
    ships_south = set(recent.filter(pl.col("region").is_in(SOUTH))["origin_dc"].unique().to_list())
    assert set(linked.affected_dcs) == ships_south >= {"DC-AQP", "DC-CUZ"}
    base, scen = stock_plan(forecast1, leads1, 0.95).table(), stock_plan(forecast1, linked.scenario, 0.95).table()
    hit = base["origin_dc"].is_in(list(linked.affected_dcs))
    assert (scen.filter(hit)["reorder_point"] > base.filter(hit)["reorder_point"]).all()
    assert scen.filter(~hit).equals(base.filter(~hit))  # every other DC exactly as in the baseline
    for dc in linked.affected_dcs:
        assert linked.scenario.get(dc).mean > leads1.get(dc).mean and linked.scenario.get(dc).p90 >= leads1.get(dc).p90
    assert linked.scenario.get("DC-CUZ").p90 > leads1.get("DC-CUZ").p90
    table = linked.table()
    assert table.filter(~pl.col("affected")).select(
        (pl.col("baseline_p90_days") == pl.col("scenario_p90_days")).all()).item()


def test_on_hand_csv_rows_are_accepted_or_quarantined_with_their_reason(forecast1, leads1, tmp_path: Path):
    path = tmp_path / "on_hand.csv"
    path.write_text("origin_dc,category,on_hand_units\n"
                    "DC-LIM,electronics,120\n"
                    "DC-LIM,electronics,5\n"
                    "DC-XXX,toys,3\n"
                    "\n"
                    "DC-AQP,home,-1\n"
                    "DC-AQP,home,abc\n"
                    "DC-AQP,home\n"
                    "DC-AQP,,4\n"
                    "DC-AQP,toys,7.5\n", encoding="utf-8")
    imp = read_on_hand(path, set(forecast1.keys))
    assert imp.rows_in == 9 == len(imp.accepted) + len(imp.quarantined)
    assert imp.accepted == {("DC-LIM", "electronics"): 120.0, ("DC-AQP", "toys"): 7.5}
    reasons = {q["row_number"]: q["reason"] for q in imp.quarantined}
    assert list(reasons) == [2, 3, 4, 5, 6, 7, 8]
    assert "duplicate" in reasons[2] and "unknown series" in reasons[3] and reasons[4] == "empty row"
    assert ">= 0" in reasons[5] and "not a number" in reasons[6] and "fields" in reasons[7] and "missing" in reasons[8]
    plan = stock_plan(forecast1, leads1, 0.95, imp).table()
    lim = plan.filter((pl.col("origin_dc") == "DC-LIM") & (pl.col("category") == "electronics")).row(0, named=True)
    assert lim["days_of_cover"] == pytest.approx(120.0 / lim["demand_per_day"])
    assert plan["days_of_cover"].null_count() == 70
    out = imp.write_quarantine(tmp_path / "q" / "on_hand.csv")
    assert pl.read_csv(out)["row_number"].to_list() == [2, 3, 4, 5, 6, 7, 8]


def test_an_on_hand_file_with_the_wrong_header_quarantines_every_row(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_bytes("dc;cat;units\nDC-LIM;toys;3\nDC-AQP;toys;4\n".encode("latin-1"))
    imp = read_on_hand(path)
    assert imp.rows_in == 2 and not imp.accepted and all("header lacks" in q["reason"] for q in imp.quarantined)
    assert read_on_hand(b"").rows_in == 0
