"""Forecasts for the demo traceability lots: the command's JSON line, what-ifs, drivers, errors."""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics import artifacts, storage
from analytics.model_card import SkipTraining
from analytics.shelflife import kinetics as K
from analytics.shelflife.model import save_model, train, world_seed
from analytics.shelflife.predict import (
    ShelfLifeInputError,
    cli,
    demo_lot_history,
    forecast_all,
    forecast_histories,
    forecast_in_transit,
    model_for,
    predict_lot,
    shelf_life_command,
)
from analytics.traceability import lots as core
from analytics.traceability.demo_lots import generate

KEYS = ["lot", "product", "remaining_days_p10", "remaining_days_p50", "remaining_days_p90", "at_risk"]


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory, fitted) -> Path:
    d = tmp_path_factory.mktemp("trace")
    generate(d, 7)
    save_model(fitted.result["model"], d / "models", fitted.result["card"])
    return d


def _lot_of(d: Path, crop: str) -> str:
    lots = core.list_lots(d)
    return lots.filter(pl.col("crop") == crop)["lot_code"][0]


def test_command_prints_exactly_one_json_line(trace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lot = _lot_of(trace_dir, "blueberry")
    line = shelf_life_command(trace_dir, lot)
    assert "\n" not in line
    obj = json.loads(line)
    assert list(obj) == KEYS
    assert obj["lot"] == lot and obj["product"] == "blueberry"
    assert 0 <= obj["remaining_days_p10"] <= obj["remaining_days_p50"] <= obj["remaining_days_p90"]
    assert obj["at_risk"] == (obj["remaining_days_p50"] < K.PRODUCTS["blueberry"].min_market_days)
    args = argparse.Namespace(data_dir=str(trace_dir), lot=lot, extra_hours=12.0, at_temp=15.0, json=True)
    assert cli(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and list(json.loads(out[0])) == KEYS
    assert json.loads(out[0])["remaining_days_p50"] <= obj["remaining_days_p50"]


def test_every_perishable_demo_lot_gets_a_forecast_and_counts_add_up(trace_dir: Path) -> None:
    fleet = forecast_all(trace_dir)
    lots = core.list_lots(trace_dir)
    assert len(fleet.forecasts) + len(fleet.not_perishable) + len(fleet.failed) == lots.height
    assert not fleet.failed
    perishable = lots.filter(pl.col("crop").is_in(list(K.PRODUCTS)))
    assert {f.lot for f in fleet.forecasts} == set(perishable["lot_code"].to_list())
    for f in fleet.forecasts:
        for s in f.shipments:
            assert 0 <= s.remaining_days_p10 <= s.remaining_days_p50 <= s.remaining_days_p90
            # the drivers add up to the P50
            assert sum(d.days for d in s.drivers) == pytest.approx(s.remaining_days_p50, abs=0.05)
            assert s.at_risk == (s.remaining_days_p50 < s.min_market_days)
        assert f.worst.remaining_days_p50 == min(s.remaining_days_p50 for s in f.shipments)
    assert sum(len(f.shipments) for f in fleet.forecasts) > len(fleet.forecasts)  # some lots are split
    assert len(fleet.at_risk) == sum(s.at_risk for f in fleet.forecasts for s in f.shipments)


def test_demo_history_uses_each_shipments_own_readings_and_planned_voyage(trace_dir: Path) -> None:
    lots = core.list_lots(trace_dir)
    split = None
    for code in lots.filter(pl.col("crop") == "blueberry")["lot_code"].to_list():
        ship, _, _ = demo_lot_history(trace_dir, code)
        if ship.height == 2:
            split = code
            break
    assert split is not None
    ship, readings, info = demo_lot_history(trace_dir, split)
    assert info["product"] == "blueberry"
    for row in ship.iter_rows(named=True):
        r = readings.filter(pl.col("lot_id") == row["lot_id"])
        planned = r.filter(pl.col("planned"))
        assert planned["temp_c"].unique().to_list() == [K.PRODUCTS["blueberry"].optimum_c]
        assert row["departure_hours"] < planned["hours"].min() <= row["departure_hours"] + 1.0
        assert row["transit_hours"] == pytest.approx(row["departure_hours"] + row["voyage_days"] * 24)
        observed = r.filter(~pl.col("planned"))
        assert observed.height == 18  # cooling + haul + its own loading event, not the other buyer's
        assert observed["hours"].max() == pytest.approx(row["departure_hours"])


def test_whatif_lowers_the_forecast_and_a_lot_at_its_optimum_loses_only_transit(trace_dir: Path, fitted) -> None:
    lot = _lot_of(trace_dir, "avocado")
    p50 = [predict_lot(trace_dir, lot, extra_hours=h, at_temp_c=20.0 if h else None).worst.remaining_days_p50
           for h in (0, 6, 12, 24, 48)]
    assert all(b <= a + 1e-9 for a, b in zip(p50, p50[1:]))
    assert p50[0] - p50[-1] > 2.0
    # a shipment that never left its optimum: no heat or chilling driver, transit costs its days
    ship, readings, _ = demo_lot_history(trace_dir, lot)
    at_opt = readings.with_columns(pl.lit(K.PRODUCTS["avocado"].optimum_c).alias("temp_c"))
    fc = forecast_histories(fitted.result["model"], ship, at_opt)[0]
    d = {x.key: x for x in fc.drivers}
    assert d["heat"].days == 0 and d["chill"].days == 0
    assert d["transit"].days == pytest.approx(-fc.transit_days, abs=0.01)
    assert fc.physics_days == pytest.approx(K.PRODUCTS["avocado"].nominal_days - fc.transit_days, abs=0.01)


def test_clear_errors(trace_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(K.UnknownProduct, match="no shelf-life model"):
        shelf_life_command(trace_dir, _lot_of(trace_dir, "coffee"))
    with pytest.raises(core.LotNotFound):
        shelf_life_command(trace_dir, "NO-SUCH-LOT")
    lot = _lot_of(trace_dir, "mango")
    for hours, temp, msg in ((12, None, "need a temperature"), (-1, 10, "between"), (5, 80, "between"),
                             (0, 10, "changes nothing"), ("x", 10, "number")):
        with pytest.raises(ShelfLifeInputError, match=msg):
            shelf_life_command(trace_dir, lot, extra_hours=hours, at_temp_c=temp)
    untrained = tmp_path / "untrained"
    shutil.copytree(trace_dir, untrained, ignore=shutil.ignore_patterns("models"))
    with pytest.raises(FileNotFoundError, match="train"):
        predict_lot(untrained, lot)
    assert np.isfinite(predict_lot(trace_dir, lot).worst.remaining_days_p50)


def test_live_readings_replace_the_plan_up_to_now(trace_dir: Path, fitted) -> None:
    model = fitted.result["model"]
    lot = _lot_of(trace_dir, "blueberry")
    ship, _, _ = demo_lot_history(trace_dir, lot)
    row = ship.row(0, named=True)
    depart = row["harvest_time"] + timedelta(hours=row["departure_hours"])
    now = depart + timedelta(days=5)
    hourly = [depart + timedelta(hours=k + 0.5) for k in range(5 * 24)]
    opt = K.PRODUCTS["blueberry"].optimum_c
    plan = predict_lot(trace_dir, lot, model=model).shipments[0]
    same = forecast_in_transit(trace_dir, lot, [(t, opt) for t in hourly], now, model=model).shipments[0]
    warm = forecast_in_transit(trace_dir, lot, [(t, 8.0) for t in hourly], now, model=model).shipments[0]
    # a live log at the optimum is what the plan assumed (the last loading reading now holds half an hour
    # longer, hence the tolerance); five days at 8 °C cost days
    assert same.remaining_days_p50 == pytest.approx(plan.remaining_days_p50, abs=0.05)
    assert warm.remaining_days_p50 < plan.remaining_days_p50 - 2.0
    assert {x.key: x for x in warm.drivers}["heat"].value > 5 * 24 * 7.9
    # a vessel still at sea after its planned arrival has been in transit at least until now
    late = depart + timedelta(days=row["voyage_days"] + 6)
    delayed = forecast_in_transit(trace_dir, lot, [], late, model=model).shipments[0]
    assert delayed.transit_days > plan.transit_days + 5.9
    assert delayed.remaining_days_p50 < plan.remaining_days_p50
    with pytest.raises(ShelfLifeInputError, match="timezone"):
        forecast_in_transit(trace_dir, lot, [], now.replace(tzinfo=None), model=model)


def test_trainer_writes_the_quality_card_and_verified_artifacts(tmp_path: Path) -> None:
    d = tmp_path / "data"
    generate(d, 3)
    card = train(d, n_lots=600, train_net=False)["quality"]
    for key in ("mae", "baseline_mae", "coverage_80"):
        assert isinstance(card[key], float)
    assert card["mae"] < card["baseline_mae"]
    assert card["world_seed"] == world_seed(d)
    assert card["sha256"] == artifacts.read_manifest(d / "models" / card["artifact"])["sha256"]
    storage.write_json(d / "models" / "model_card.json", {"quality": card})
    lot = _lot_of(d, "grape")
    assert json.loads(shelf_life_command(d, lot))["product"] == "grape"
    storage.write_json(d / "models" / "model_card.json", {"quality": {**card, "sha256": "0" * 64}})
    with pytest.raises(artifacts.ArtifactHashError):
        model_for(d)
    with pytest.raises(SkipTraining, match="traceability lots"):
        train(tmp_path / "empty", n_lots=300, train_net=False)
