"""Ranking, dominance, Pareto front and menu mode."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics.sourcing.ingredients import INGREDIENT_IDS
from analytics.sourcing.ranking import (
    CRITERIA,
    CRITERION_COLUMNS,
    SourcingInputError,
    dominates,
    menu_plan,
    pareto_mask,
    parse_menu,
    rank_naive,
    rank_suppliers,
    validate_weights,
)


@pytest.mark.parametrize("criterion", CRITERIA)
def test_all_weight_on_one_criterion_ranks_by_it_alone(scored: pl.DataFrame, criterion: str) -> None:
    col, higher = CRITERION_COLUMNS[criterion]
    ranked = rank_suppliers(scored, {criterion: 1.0})
    assert ranked.height == scored.height
    for ing in INGREDIENT_IDS:
        vals = ranked.filter(pl.col("ingredient_id") == ing).sort("rank")[col].to_numpy()
        steps = np.diff(vals)
        assert (steps <= 0).all() if higher else (steps >= 0).all(), (criterion, ing, vals)
        assert len(vals) >= 6


def test_dominated_supplier_never_ranks_above_its_dominator(scored: pl.DataFrame) -> None:
    # plant an exact dominator for several suppliers (a copy better on every criterion), plus the real pairs
    copies = scored.group_by("ingredient_id", maintain_order=True).head(2).select(scored.columns).with_columns(
        (pl.col("supplier_id") + "-WORSE").alias("supplier_id"),
        (pl.col("sustainability_score") - 0.5).alias("sustainability_score"),
        (pl.col("price_pen_kg") + 0.01).alias("price_pen_kg"),
        pl.col("on_time_rate"),  # equal on this one
        (pl.col("distance_km") + 1.0).alias("distance_km"),
    )
    data = pl.concat([scored, copies])
    rng = np.random.default_rng(8)
    weight_sets = [{c: 1.0 if c == k else 0.0 for c in CRITERIA} for k in CRITERIA]
    weight_sets += [dict(zip(CRITERIA, rng.integers(0, 10, 4).astype(float) + np.eye(4)[i % 4], strict=True))
                    for i in range(25)]
    cols = [c for c, _ in CRITERION_COLUMNS.values()]
    pairs_checked = 0
    for w in weight_sets:
        ranked = rank_suppliers(data, w)
        for ing in INGREDIENT_IDS:
            grp = ranked.filter(pl.col("ingredient_id") == ing)
            rows = grp.select("supplier_id", "rank", *cols).to_dicts()
            for a in rows:
                for b in rows:
                    if dominates(a, b):
                        pairs_checked += 1
                        assert a["rank"] < b["rank"], (w, a, b)
    assert pairs_checked > 500


def test_ties_are_broken_deterministically() -> None:
    row = {"ingredient_id": "cacao", "sustainability_score": 70.0, "price_pen_kg": 40.0, "on_time_rate": 0.9,
           "distance_km": 800.0, "quality_score": 80.0}
    df = pl.DataFrame([{**row, "supplier_id": s} for s in ("S-3", "S-1", "S-2")])
    for _ in range(3):
        ranked = rank_suppliers(df.sample(fraction=1.0, shuffle=True, seed=_), {"price": 1, "distance": 2})
        assert ranked["supplier_id"].to_list() == ["S-1", "S-2", "S-3"]
        assert ranked["composite"].to_list() == [100.0, 100.0, 100.0]


def test_vectorised_equals_naive_loop(scored: pl.DataFrame) -> None:
    w = {"sustainability": 35, "price": 25, "reliability": 25, "distance": 15}
    fast = rank_suppliers(scored, w)
    slow = {r["supplier_id"]: r for r in rank_naive(scored.to_dicts(), w)}
    for r in fast.iter_rows(named=True):
        assert slow[r["supplier_id"]]["rank"] == r["rank"]
        assert slow[r["supplier_id"]]["composite"] == pytest.approx(r["composite"])


def test_composite_by_hand() -> None:
    df = pl.DataFrame({
        "supplier_id": ["A", "B", "C"], "ingredient_id": ["maca"] * 3, "quality_score": [80.0] * 3,
        "sustainability_score": [80.0, 60.0, 40.0], "price_pen_kg": [30.0, 20.0, 40.0],
        "on_time_rate": [0.9, 0.8, 1.0], "distance_km": [300.0, 200.0, 400.0],
    })
    r = rank_suppliers(df, {"sustainability": 2, "price": 1, "reliability": 1, "distance": 0})
    got = dict(zip(r["supplier_id"], r["composite"], strict=True))
    # u: A (1, 0.5, 0.5, ·) B (0.5, 1, 0, ·) C (0, 0, 1, ·); composite = 100 × (2u_s + u_p + u_r) / 4
    assert got == pytest.approx({"A": 75.0, "B": 50.0, "C": 25.0})
    assert r["supplier_id"].to_list() == ["A", "B", "C"]
    assert r["pareto"].to_list() == [True, True, False]  # C is dearer and less sustainable than A


def test_pareto_mask_matches_brute_force(scored: pl.DataFrame) -> None:
    mask = pareto_mask(scored)
    rows = scored.select("ingredient_id", "price_pen_kg", "sustainability_score").to_dicts()
    for i, a in enumerate(rows):
        dominated = any(b["ingredient_id"] == a["ingredient_id"] and b["price_pen_kg"] <= a["price_pen_kg"]
                        and b["sustainability_score"] >= a["sustainability_score"]
                        and (b["price_pen_kg"] < a["price_pen_kg"] or b["sustainability_score"] > a["sustainability_score"])
                        for b in rows)
        assert mask[i] == (not dominated)
    # every ingredient has a front, and its cheapest supplier is always on it
    for ing in INGREDIENT_IDS:
        grp = scored.with_columns(pl.Series("p", mask)).filter(pl.col("ingredient_id") == ing)
        assert grp["p"].any()
        cheapest = grp.sort(["price_pen_kg", "sustainability_score"], descending=[False, True]).row(0, named=True)
        assert cheapest["p"]


def test_weight_validation() -> None:
    assert validate_weights({"price": 3}) == {"sustainability": 0.0, "price": 3.0, "reliability": 0.0, "distance": 0.0}
    for bad, msg in (({"price": -1}, "≥ 0"), ({"price": "x"}, "not a number"), ({}, "greater than 0"),
                     ({"taste": 1}, "unknown criteria"), ({"price": float("nan")}, "≥ 0")):
        with pytest.raises(SourcingInputError, match=msg):
            validate_weights(bad)


def _tiny() -> pl.DataFrame:
    return pl.DataFrame({
        "supplier_id": ["INC", "BEST", "SECOND"], "name": ["Incumbent", "Best", "Second"],
        "ingredient_id": ["maca"] * 3, "region": ["PE-JUN"] * 3, "quality_score": [80.0] * 3,
        "sustainability_score": [40.0, 90.0, 80.0], "price_pen_kg": [30.0, 32.0, 31.0],
        "on_time_rate": [0.8, 0.95, 0.9], "distance_km": [300.0, 250.0, 260.0],
        "co2e_kg_per_kg": [0.05, 0.02, 0.03], "capacity_kg_month": [1000.0, 60.0, 1000.0],
        "is_incumbent": [True, False, False],
    })


def test_menu_plan_by_hand() -> None:
    menu = parse_menu([{"ingredient_id": "maca", "kg_month": 100}], ["maca"])
    plan = menu_plan(_tiny(), menu, {"sustainability": 1})
    line = plan.lines.row(0, named=True)
    assert line["current_supplier_id"] == "INC"
    assert line["current_cost_pen"] == pytest.approx(100 * 30.0)
    assert line["current_co2e_kg"] == pytest.approx(100 * 0.05)
    # BEST has 60 kg of capacity, SECOND covers the other 40
    assert plan.allocation["supplier_id"].to_list() == ["BEST", "SECOND"]
    assert plan.allocation["kg_month"].to_list() == [60.0, 40.0]
    assert line["alt_cost_pen"] == pytest.approx(60 * 32.0 + 40 * 31.0)  # 3,160
    assert line["alt_co2e_kg"] == pytest.approx(60 * 0.02 + 40 * 0.03)  # 2.4
    assert plan.totals["saving_pen"] == pytest.approx(3000.0 - 3160.0)
    assert plan.totals["saving_co2e_kg"] == pytest.approx(5.0 - 2.4)
    assert plan.totals["alt_score"] == pytest.approx((60 * 90 + 40 * 80) / 100)
    # more than everyone can supply: the rest stays with the current supplier
    big = menu_plan(_tiny(), parse_menu([{"ingredient_id": "maca", "kg_month": 2500}], ["maca"]), {"price": 1})
    assert big.totals["shortfall_kg"] == pytest.approx(2500 - 2060)


def test_menu_rows_rejected_with_row_number_and_reason() -> None:
    rows = [{"ingredient_id": "maca", "kg_month": 10}, {"ingredient_id": "unicorn", "kg_month": 5},
            {"ingredient_id": "maca", "kg_month": "abc"}, {"ingredient_id": None, "kg_month": None},
            {"ingredient_id": "maca", "kg_month": 0}, {"ingredient_id": "maca", "kg_month": 15}]
    menu = parse_menu(rows, ["maca"])
    assert [m.kg_month for m in menu.accepted] == [25.0]  # the two good maca rows summed
    assert [(r["row_number"], r["reason"].split(" ")[0]) for r in menu.rejected] == [
        (2, "unknown"), (3, "kg"), (5, "kg")]
    # in = accepted rows + rejected rows (the blank editor row is not an input)
    assert 2 + len(menu.rejected) == len(rows) - 1
    with pytest.raises(SourcingInputError, match="no valid lines"):
        menu_plan(_tiny(), parse_menu([{"ingredient_id": "x", "kg_month": 1}], ["maca"]), None)
