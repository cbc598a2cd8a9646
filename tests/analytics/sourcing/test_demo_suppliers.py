"""The supplier generator: deterministic, real origins, valid schema, on-time record from orders."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analytics import geo, storage
from analytics.demo_orders import extensions
from analytics.schemas import SCHEMAS
from analytics.sourcing.demo_suppliers import build_suppliers, generate_suppliers, legs, regional_late_rates
from analytics.sourcing.ingredients import INGREDIENT_BY_ID, INGREDIENT_IDS


def test_registered_and_generated_with_the_demo(demo_dir: Path, suppliers: pl.DataFrame) -> None:
    assert generate_suppliers in extensions()
    assert {"sourcing_suppliers", "sourcing_ingredients"} <= set(SCHEMAS)
    res = storage.load_table(demo_dir, "sourcing_suppliers")
    assert res.rows_read == 240 and res.quarantined == 0
    assert 100 <= suppliers.height <= 300
    assert suppliers["supplier_id"].n_unique() == suppliers.height
    assert suppliers["name"].n_unique() == suppliers.height
    assert set(suppliers["ingredient_id"]) == set(INGREDIENT_IDS)
    assert set(suppliers["region"]) <= set(geo.REGION_CODES)
    # one incumbent (the kitchen's current supplier) per ingredient
    inc = suppliers.filter(pl.col("is_incumbent"))
    assert inc.height == len(INGREDIENT_IDS) and inc["ingredient_id"].n_unique() == len(INGREDIENT_IDS)


def test_deterministic_and_seeded() -> None:
    a = build_suppliers(7)
    b = build_suppliers(7)
    c = build_suppliers(8)
    assert a[0].equals(b[0]) and a[1].equals(b[1])
    assert not a[1].equals(c[1])


def test_real_origins(suppliers: pl.DataFrame) -> None:
    by = {k: set(v) for k, v in suppliers.group_by("ingredient_id").agg(pl.col("region").unique()).iter_rows()}
    assert by["maca"] <= {"PE-JUN", "PE-PAS"}
    assert by["sal_maras"] == {"PE-CUS"}
    assert by["paiche"] >= {"PE-LOR", "PE-UCA"}
    assert "PE-PUN" in by["quinoa"] and "PE-HUV" in by["papa_nativa"] and "PE-ICA" in by["concha_abanico"]
    assert {"PE-PAS", "PE-JUN"} <= by["cafe"]  # Villa Rica (Pasco), Chanchamayo (Junín)
    assert by["camu_camu"] <= {"PE-LOR", "PE-UCA"}
    chuncho = suppliers.filter(pl.col("variety") == "chuncho")
    assert chuncho.height > 0 and set(chuncho["region"]) == {"PE-CUS"}
    # every origin in the catalogue has at least one supplier, and protected origins only where real
    for ing in INGREDIENT_IDS:
        rows = suppliers.filter(pl.col("ingredient_id") == ing)
        assert set(rows["locality"]) == {o.locality for o in INGREDIENT_BY_ID[ing].origins}
    dop = suppliers.filter(pl.col("certifications").str.contains("dop"))
    dop_localities = {(i.ingredient_id, o.locality) for i in INGREDIENT_BY_ID.values() for o in i.origins if o.dop}
    assert all((r["ingredient_id"], r["locality"]) in dop_localities for r in dop.iter_rows(named=True))
    # Loreto has no road to Lima: its suppliers fly or go by river then road
    assert set(suppliers.filter(pl.col("region") == "PE-LOR")["transport_mode"]) <= {"air", "river_road"}


def test_distances_are_geographic() -> None:
    # Cusco by road: 570 km in a straight line × 1.65 sierra circuity
    road, river, air = legs(-13.532, -71.9675, "PE-CUS", "road")
    assert river == air == 0.0
    assert road == pytest.approx(geo.haversine_km(-13.532, -71.9675, -12.0464, -77.0428) * 1.65, abs=0.1)
    assert 900 < road < 1000
    road, river, air = legs(-3.7491, -73.2538, "PE-LOR", "river_road")
    assert 950 < river < 1100 and 700 < road < 800 and air == 0.0
    with pytest.raises(ValueError, match="unknown transport mode"):
        legs(-12.0, -77.0, "PE-LIM", "teleport")


def test_on_time_record_comes_from_orders(demo_dir: Path, suppliers: pl.DataFrame, tmp_path: Path) -> None:
    rates = regional_late_rates(demo_dir)
    orders = storage.load_table(demo_dir, "orders").frame
    cus = orders.filter((pl.col("region") == "PE-CUS") & pl.col("shipping_mode").is_in(["standard", "express"]))
    late, n = rates[("PE-CUS", "road")]
    assert n == cus.height and late == pytest.approx(cus["is_late"].mean())
    row = suppliers.filter((pl.col("region") == "PE-CUS") & (pl.col("transport_mode") == "road")).row(0, named=True)
    assert row["on_time_source"] == "orders"
    assert row["region_on_time_rate"] == pytest.approx(1 - late, abs=1e-4)
    assert (suppliers["on_time_source"] == "orders").mean() > 0.9
    ok = suppliers.with_columns((1 - pl.col("late_deliveries_12m") / pl.col("deliveries_12m")).alias("x"))
    assert (ok["x"] - ok["on_time_rate"]).abs().max() < 1e-4
    # without an orders table every supplier uses the documented prior, and the call still works
    counts = generate_suppliers(tmp_path, 7, None)
    assert counts == {"sourcing_ingredients": 23, "sourcing_suppliers": 240}
    alone = storage.load_table(tmp_path, "sourcing_suppliers").frame
    assert set(alone["on_time_source"]) == {"prior"}


def test_bad_rows_are_quarantined_with_reason(demo_dir: Path, tmp_path: Path) -> None:
    df = pl.read_parquet(storage.table_path(demo_dir, "sourcing_suppliers"))
    bad = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(-30.0).otherwise(pl.col("lat")).alias("lat"),
        pl.when(pl.int_range(pl.len()) == 9).then(pl.lit("PE-XXX")).otherwise(pl.col("region")).alias("region"),
    )
    bad.write_parquet(storage.table_path(tmp_path, "sourcing_suppliers"))
    res = storage.load_table(tmp_path, "sourcing_suppliers")
    assert res.rows_read == 240 and res.quarantined == 2 and res.frame.height == 238
    q = storage.read_quarantine(tmp_path, "sourcing_suppliers")
    assert q is not None
    reasons = dict(zip(q["row_number"].to_list(), q["reason"].to_list(), strict=True))
    assert set(reasons) == {5, 10}
    assert "lat" in reasons[5] and "region" in reasons[10]
