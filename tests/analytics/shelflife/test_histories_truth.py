"""Generated lot histories, exposure features and the ground truth at arrival."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics.shelflife import kinetics as K
from analytics.shelflife.features import FEATURES, MAX_HOLD_H, exposures, feature_frame, physics_baseline
from analytics.shelflife.histories import BUYER_LOCODE, PHASE_CODE, all_routes, generate_histories, make_route, uses_ca
from analytics.shelflife.predict import add_exposure
from analytics.shelflife.truth import (
    CA_FACTOR_RANGES,
    SEASON_LOSS_RANGES,
    arrival_quality,
    default_world,
    draw_world,
)
from analytics.traceability.agro_chains import BUYERS, CROPS


@pytest.fixture(scope="module")
def batch():
    return generate_histories(400, 5)


def test_histories_reuse_the_real_chains_and_are_deterministic(batch) -> None:
    lots, readings = batch.lots, batch.readings
    assert lots.height == 400 and lots["lot_id"].n_unique() == 400
    again = generate_histories(400, 5)
    assert again.lots.equals(lots) and again.readings.equals(readings)
    assert not generate_histories(400, 6).readings["temp_c"].equals(readings["temp_c"])
    for row in lots.iter_rows(named=True):
        crop = CROPS[row["product"]]
        assert row["farm"] in crop.farms and crop.packhouse[row["region"]] == row["packhouse"]
        route = make_route(row["origin"], row["destination"], row["mode"])
        assert route.key == row["route"] and row["ca"] == uses_ca(row["product"], route)
        assert row["mode"] == "sea" or row["product"] == "asparagus"
    assert set(lots["destination"].unique().to_list()) == set(BUYER_LOCODE[b[2]] for b in BUYERS)
    # every lot has readings from harvest to arrival, in every phase of a sea journey
    per = readings.group_by("lot_id").agg(pl.col("hours").min().alias("first"), pl.col("hours").max().alias("last"),
                                          pl.col("phase").n_unique().alias("phases"))
    joined = lots.join(per, on="lot_id")
    assert (joined["first"] == 0).all() and (joined["last"] < joined["transit_hours"]).all()
    sea = joined.filter(pl.col("mode") == "sea")
    assert (sea["phases"] == len(PHASE_CODE)).all()
    assert len(all_routes()) == 21


def test_exposures_hold_readings_and_count_gaps_as_unobserved() -> None:
    lots = pl.DataFrame({"lot_id": ["a", "b"], "product": ["blueberry", "mango"], "transit_hours": [30.0, 10.0]})
    readings = pl.DataFrame({"lot_id": ["a", "a", "a", "b"], "hours": [2.0, 4.0, 20.0, 0.0],
                             "temp_c": [10.0, 1.0, 0.0, 6.0]})
    ex = exposures(readings, lots).to_dicts()
    a, b = ex
    # a: 2 h unobserved before the first reading; 10 °C held 2 h; 1 °C held 4 h of a 16 h gap (12 h unobserved);
    # 0 °C held 4 h of the last 10 h (6 h unobserved)
    assert a["hours_unobserved"] == pytest.approx(2 + 12 + 6)
    assert a["hours_observed"] == pytest.approx(2 + MAX_HOLD_H + MAX_HOLD_H)
    assert a["degree_hours_above_opt"] == pytest.approx(10 * 2 + 1 * 4)
    assert a["hours_out_of_range"] == pytest.approx(2.0)  # only 10 °C is outside 0–2 °C
    assert a["kinetic_loss_days"] == pytest.approx(((3.25 - 1) * 2 + (3.25 ** 0.1 - 1) * 4) / 24)
    assert a["transit_days"] == pytest.approx(30 / 24)
    # b: mango at 6 °C for 4 h: 3 °C under its chilling threshold
    assert b["chill_degree_hours"] == pytest.approx(3 * 4)
    assert b["hours_out_of_range"] == pytest.approx(4)
    assert b["kinetic_loss_days"] == pytest.approx(K.PRODUCTS["mango"].chill_days_per_degree_day * 12 / 24)
    with pytest.raises(ValueError, match="after the arrival"):
        exposures(readings, lots.with_columns(pl.Series("transit_hours", [10.0, 10.0])))
    with pytest.raises(ValueError, match="belong to no lot"):
        exposures(readings, lots.head(1))
    with pytest.raises(K.UnknownProduct):
        exposures(readings, lots.with_columns(pl.Series("product", ["coffee", "mango"])))


def test_extra_exposure_never_lowers_an_exposure_feature(batch) -> None:
    base = exposures(batch.readings, batch.lots)
    for temp in (-3.0, 0.0, 8.0, 15.0, 30.0):
        lots2, r2 = add_exposure(batch.lots, batch.readings, 12.0, temp)
        more = exposures(r2, lots2)
        for c in ("transit_days", "kinetic_loss_days", "degree_hours_above_opt", "hours_out_of_range",
                  "chill_degree_hours"):
            assert (more[c].to_numpy() >= base[c].to_numpy() - 1e-9).all(), (temp, c)
        assert more["transit_days"].to_numpy() == pytest.approx(base["transit_days"].to_numpy() + 0.5)
    f = feature_frame(batch.lots, base)
    assert tuple(f.columns) == FEATURES


def test_truth_equals_physics_in_the_default_world_and_an_optimal_lot_loses_only_transit(batch) -> None:
    lots, readings = batch.lots, batch.readings
    feats = feature_frame(lots, exposures(readings, lots))
    exact = arrival_quality(lots, readings, default_world())
    assert exact["remaining_days"].to_numpy() == pytest.approx(physics_baseline(feats), abs=1e-9)
    # the same lots kept at their optimum the whole way: only the transit days are lost
    opt = lots.select("lot_id", "product").with_columns(
        pl.col("product").replace_strict({k: p.optimum_c for k, p in K.PRODUCTS.items()}).alias("_opt"))
    at_opt = readings.join(opt.select("lot_id", "_opt"), on="lot_id").with_columns(
        pl.col("_opt").alias("temp_c")).drop("_opt")
    r = arrival_quality(lots, at_opt, default_world())["remaining_days"].to_numpy()
    nominal = np.array([K.PRODUCTS[k].nominal_days for k in lots["product"].to_list()])
    assert r == pytest.approx(np.maximum(0, nominal - lots["transit_hours"].to_numpy() / 24), abs=1e-9)


def test_world_parameters_vary_by_seed_within_the_documented_ranges() -> None:
    w1, w2 = draw_world(1), draw_world(2)
    assert w1 == draw_world(1)
    for key, p in K.PRODUCTS.items():
        a, b = w1.products[key], w2.products[key]
        assert a.nominal_days != b.nominal_days
        for w in (a, b):
            assert p.nominal_range[0] <= w.nominal_days <= p.nominal_range[1]
            for q, (lo, hi) in zip(w.q10, K.Q10_RANGES, strict=True):
                assert lo <= q <= hi
            assert SEASON_LOSS_RANGES[key][0] <= w.season_loss <= SEASON_LOSS_RANGES[key][1]
            assert CA_FACTOR_RANGES[key][0] <= w.ca_factor <= CA_FACTOR_RANGES[key][1]


def test_truth_reacts_to_heat_season_and_atmosphere(batch) -> None:
    lots, readings = batch.lots, batch.readings
    world = draw_world(5)
    noiseless = arrival_quality(lots, readings, world, noise=False)
    y = noiseless["remaining_days"].to_numpy()
    assert (y >= 0).all() and noiseless["grade"].is_in(list(K.GRADES)).all()
    hot_lots, hot_readings = add_exposure(lots, readings, 24.0, 20.0)
    hotter = arrival_quality(hot_lots, hot_readings, world, noise=False)["remaining_days"].to_numpy()
    alive = y > 3
    assert (hotter[alive] < y[alive] - 1.0).all()
    # controlled atmosphere slows the voyage: without it the same CA lots would have less life left
    ca = lots["ca"].to_numpy()
    assert ca.any()
    no_ca = arrival_quality(lots.with_columns(pl.lit(False).alias("ca")), readings, world, noise=False)
    assert (no_ca["remaining_days"].to_numpy()[ca & alive] < y[ca & alive]).all()
    # noise: same world, different lot draws
    noisy = arrival_quality(lots, readings, world, seed=1)["remaining_days"].to_numpy()
    assert 0.3 < np.abs(noisy - y).mean() < 4.0
