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
from analytics.shelflife.histories import PHASE_CODE, make_route
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
from analytics.traceability.demo_lots import VOYAGE_READING_HOURS, generate

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
    # at risk: shipments still on their way; a received one has the quality recorded at arrival instead
    assert len(fleet.at_risk) == sum(s.at_risk and not s.arrived for f in fleet.forecasts for s in f.shipments)
    ships = [s for f in fleet.forecasts for s in f.shipments]
    received = [s for s in ships if s.arrived]
    assert 0 < len(received) < len(ships)
    assert all(s.recorded_remaining_days is not None and s.recorded_grade in "ABCD" for s in received)
    assert all(s.recorded_remaining_days is None for s in ships if not s.arrived)
    quality = pl.read_parquet(storage.table_path(trace_dir, "trace_quality"))
    assert sorted(quality["shipment_id"].to_list()) == sorted(s.lot for s in received)


def _in_transit(d: Path) -> tuple[str, str]:
    """(lot, product) of a lot whose first shipment has sailed and not reached the port abroad."""
    for code, crop in core.list_lots(d).select("lot_code", "crop").iter_rows():
        if crop in K.PRODUCTS:
            ship, _, _ = demo_lot_history(d, code)
            row = ship.row(0, named=True)
            if row["departed"] and row["port_arrival_hours"] is None:
                return code, crop
    raise AssertionError("no lot at sea in the demo data")


def test_demo_history_of_a_received_shipment_is_its_own_recorded_journey(trace_dir: Path) -> None:
    lots = core.list_lots(trace_dir)
    split = None
    for code in lots.filter(pl.col("crop") == "blueberry")["lot_code"].to_list():
        ship, _, _ = demo_lot_history(trace_dir, code)
        if ship.height == 2 and ship["arrived"].all():
            split = code
            break
    assert split is not None
    ship, readings, info = demo_lot_history(trace_dir, split)
    assert info["product"] == "blueberry"
    quality = pl.read_parquet(storage.table_path(trace_dir, "trace_quality"))
    for row in ship.iter_rows(named=True):
        r = readings.filter(pl.col("lot_id") == row["lot_id"])
        assert not r["planned"].any()  # received: nothing planned
        voyage = r.filter(pl.col("phase") == PHASE_CODE["voyage"])
        dest = r.filter(pl.col("phase") == PHASE_CODE["destination"])
        before = r.filter(pl.col("phase") == PHASE_CODE["port"])
        assert before.height == 18  # cooling + haul + its own loading event, not the other buyer's
        # its own voyage logger from the departure to the port abroad, then the delivery to the buyer
        assert voyage["hours"].min() == pytest.approx(row["departure_hours"])
        assert voyage["hours"].max() < row["port_arrival_hours"] <= dest["hours"].min()
        assert voyage.height == pytest.approx(row["voyage_days"] * 24 / VOYAGE_READING_HOURS, abs=1)
        assert r["hours"].max() <= row["transit_hours"]
        rec = quality.filter(pl.col("shipment_id") == row["lot_id"])
        assert rec.height == 1 and rec["readings"][0] == r.height
        assert rec["transit_days"][0] == pytest.approx(row["transit_hours"] / 24)
    # the two shipments' voyages are apart: neither holds the other's logger
    a, b = (readings.filter((pl.col("lot_id") == i) & (pl.col("phase") == PHASE_CODE["voyage"]))["hours"]
            for i in ship["lot_id"])
    assert not set(a.to_list()) & set(b.to_list())


def test_demo_history_of_a_shipment_at_sea_plans_the_rest_of_the_voyage(trace_dir: Path) -> None:
    lot, crop = _in_transit(trace_dir)
    ship, readings, _ = demo_lot_history(trace_dir, lot)
    row = ship.row(0, named=True)
    r = readings.filter(pl.col("lot_id") == row["lot_id"])
    planned = r.filter(pl.col("planned"))
    assert planned["temp_c"].unique().to_list() == [K.PRODUCTS[crop].optimum_c]
    # the plan starts when the vessel sailed (the departing event), after the last loading reading
    assert planned["hours"].min() == pytest.approx(row["departure_hours"])
    assert row["transit_hours"] == pytest.approx(row["departure_hours"] + row["voyage_days"] * 24)
    observed = r.filter(~pl.col("planned"))
    assert observed.height == 18 and observed["hours"].max() < row["departure_hours"]
    fc = predict_lot(trace_dir, lot).shipments[0]
    assert not fc.arrived and fc.recorded_remaining_days is None


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
    lot, crop = _in_transit(trace_dir)  # live readings come from a lot at sea
    ship, _, _ = demo_lot_history(trace_dir, lot)
    row = ship.row(0, named=True)
    depart = row["harvest_time"] + timedelta(hours=row["departure_hours"])
    now = depart + timedelta(days=5)
    hourly = [depart + timedelta(hours=k + 0.5) for k in range(5 * 24)]
    opt = K.PRODUCTS[crop].optimum_c
    plan = predict_lot(trace_dir, lot, model=model).shipments[0]
    same = forecast_in_transit(trace_dir, lot, [(t, opt) for t in hourly], now, model=model).shipments[0]
    warm = forecast_in_transit(trace_dir, lot, [(t, opt + 8.0) for t in hourly], now, model=model).shipments[0]
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
    # live readings of a lot the tables show as received: taken back to its departure and planned from there
    received = _lot_of(trace_dir, "avocado")
    rship, _, _ = demo_lot_history(trace_dir, received)
    rrow = rship.row(0, named=True)
    assert rrow["arrived"]
    rdepart = rrow["harvest_time"] + timedelta(hours=rrow["departure_hours"])
    live = forecast_in_transit(trace_dir, received, [], rdepart + timedelta(hours=1), model=model).shipments[0]
    planned_days = make_route(rrow["origin"], rrow["destination"], "sea").planned_days
    assert not live.arrived
    assert live.transit_days == pytest.approx(rrow["departure_hours"] / 24 + planned_days, abs=0.01)


def test_command_shows_recorded_against_predicted_for_a_received_lot(
        trace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quality = pl.read_parquet(storage.table_path(trace_dir, "trace_quality")).sort("shipment_id")
    rec = quality.row(0, named=True)
    fc = predict_lot(trace_dir, rec["lot_code"])
    ship = next(s for s in fc.shipments if s.lot == rec["shipment_id"])
    assert ship.arrived and ship.recorded_remaining_days == pytest.approx(rec["remaining_days"])
    assert ship.recorded_grade == rec["grade"]
    assert cli(argparse.Namespace(data_dir=str(trace_dir), lot=rec["lot_code"], json=False)) == 0
    out = capsys.readouterr().out
    assert f"shipment {rec['shipment_id']}: P50 {ship.remaining_days_p50:.1f} days; received, recorded " \
           f"{rec['remaining_days']:.1f} days (grade {rec['grade']})" in out
    # the JSON line keeps exactly the contract's keys
    assert cli(argparse.Namespace(data_dir=str(trace_dir), lot=rec["lot_code"], json=True)) == 0
    assert list(json.loads(capsys.readouterr().out)) == KEYS


def test_trainer_writes_the_quality_card_and_verified_artifacts(tmp_path: Path) -> None:
    d = tmp_path / "data"
    generate(d, 3)
    card = train(d, n_lots=600, train_net=False)["quality"]
    for key in ("mae", "baseline_mae", "coverage_80"):
        assert isinstance(card[key], float)
    assert card["mae"] < card["baseline_mae"]
    assert card["world_seed"] == world_seed(d) == 3  # the seed trace_world.json keeps
    # too few received shipments to train on: simulated histories, and the tables' shipments are the held-out test
    tables = card["tables"]
    assert card["training_data"]["source"] == "simulated"
    assert tables["shipments"] == card["training_data"]["table_shipments"] == storage.load_table(
        d, "trace_quality").rows_read > 0
    assert 0 <= tables["coverage_80"] <= 1 and tables["mae"] < tables["baseline_mae"]
    # with enough received shipments the trainer uses the tables instead (here: too few for any model)
    with pytest.raises(ValueError, match=rf"not enough lots to train on \({tables['shipments']}; need"):
        train(d, n_lots=600, train_net=False, min_table_shipments=1)
    assert card["sha256"] == artifacts.read_manifest(d / "models" / card["artifact"])["sha256"]
    storage.write_json(d / "models" / "model_card.json", {"quality": card})
    lot = _lot_of(d, "grape")
    assert json.loads(shelf_life_command(d, lot))["product"] == "grape"
    storage.write_json(d / "models" / "model_card.json", {"quality": {**card, "sha256": "0" * 64}})
    with pytest.raises(artifacts.ArtifactHashError):
        model_for(d)
    with pytest.raises(SkipTraining, match="traceability lots"):
        train(tmp_path / "empty", n_lots=300, train_net=False)
