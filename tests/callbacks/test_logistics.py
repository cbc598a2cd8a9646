"""Logistics page: callbacks called directly, map and grid against hand-computed aggregates."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics.datadir import LOGISTICS_REPORT, DataDir
from analytics.logistics import queries as lq
from callbacks import logistics as cb
from components import logistics as view
from tests.conftest import ROOT

START, END = "2024-10-01", "2024-12-31"


def _scores(d: Path) -> pl.DataFrame:
    return pl.read_parquet(d / "logistics_scores.parquet")


def _hand_filter(df: pl.DataFrame, carriers: list[str] | None = None) -> pl.DataFrame:
    out = df.filter(pl.col("order_date").is_between(date.fromisoformat(START), date.fromisoformat(END)))
    if carriers:
        out = out.filter(pl.col("carrier").is_in(carriers))
    return out


def test_map_and_grid_agree_with_hand_aggregate(lrt, trained_dir: Path):
    carriers = ["Rápido Inca", "Chaski Express"]
    fig, kpis, rows, status = cb.update_view(START, END, carriers, None, None, None, "risk", 0, "es", "light")
    hand = _hand_filter(_scores(trained_dir), carriers)
    by_region = hand.group_by("region").agg(pl.len().alias("n"), pl.col("late_risk").mean().alias("risk"),
                                            pl.col("is_late").mean().alias("late"))
    expected = {r["region"]: r for r in by_region.to_dicts()}
    tiles = fig["data"][0]
    got = dict(zip([c[0] for c in tiles["customdata"]], tiles["marker"]["color"]))
    assert set(got) == set(expected)
    for region, value in got.items():
        assert value == pytest.approx(expected[region]["risk"], abs=1e-9), region
    # bubble sizes grow with volume: the largest bubble is the region with most orders
    sizes = dict(zip([c[0] for c in fig["data"][1]["customdata"]], fig["data"][1]["marker"]["size"]))
    assert max(sizes, key=sizes.get) == by_region.sort("n", descending=True)["region"][0]
    # grid: top rows by risk × value, exactly the hand-computed ranking
    top = hand.with_columns((pl.col("late_risk") * pl.col("amount_pen")).alias("rv")).sort(
        ["rv", "order_id"], descending=[True, False]).head(lq.TOP_N)
    assert [r["order_id"] for r in rows] == top["order_id"].to_list()
    assert rows[0]["risk_value"] == pytest.approx(top["rv"][0])
    assert all(r["p90_days"] >= r["p50_days"] >= 1 for r in rows)
    assert all(r["reasons"] for r in rows[:50])  # top reasons are filled for the risky orders
    # KPI cards: orders and expected late orders
    text = json.dumps(kpis.__repr__() if not isinstance(kpis, list) else [str(k) for k in kpis])
    assert f"{hand.height:,}" in text
    assert f"{hand['late_risk'].sum():,.0f}" in text
    assert f"{hand.height:,}" in str(status)


def test_historical_toggle_colours_by_late_rate(lrt, trained_dir: Path):
    fig, *_ = cb.update_view(START, END, None, ["standard"], None, None, "late_rate", 0, "en", "dark")
    hand = _hand_filter(_scores(trained_dir)).filter(pl.col("shipping_mode") == "standard")
    late = dict(hand.group_by("region").agg(pl.col("is_late").mean()).iter_rows())
    got = dict(zip([c[0] for c in fig["data"][0]["customdata"]], fig["data"][0]["marker"]["color"]))
    assert got == pytest.approx(late)
    assert fig["data"][0]["marker"]["colorbar"]["title"]["text"] == "Historical late rate"


def test_empty_dates_mean_last_30_days_and_bad_input_is_explained(lrt, trained_dir: Path):
    _, _, rows, status = cb.update_view(None, None, None, None, None, None, "risk", 0, "es", "light")
    recent = _scores(trained_dir).filter(pl.col("order_date") >= date(2024, 12, 2))
    assert f"{recent.height:,}" in str(status)
    fig, kpis, rows, status = cb.update_view("2024-13-45", END, None, None, None, None, "risk", 0, "es", "light")
    assert rows == [] and "No se pudo completar" in str(status)
    _, _, rows, status = cb.update_view(START, END, ["No Such Carrier"], None, None, None, "risk", 0, "es", "light")
    assert rows == [] and "No hay pedidos" in str(status)


def test_drilldown_heat_and_weekly(lrt, trained_dir: Path):
    title, heat, weekly = cb.update_drilldown("PE-CAJ", START, END, None, None, None, None, "es", "light")
    assert "Cajamarca" in title
    hand = _hand_filter(_scores(trained_dir)).filter(pl.col("region") == "PE-CAJ")
    cells = hand.group_by("carrier", "shipping_mode").agg(pl.col("is_late").mean().alias("lr"))
    z = heat.data[0]
    for carrier, mode, lr in cells.iter_rows():
        assert z.z[list(z.y).index(carrier)][list(z.x).index(mode)] == pytest.approx(lr)
    assert sum(weekly.data[0].y is not None for _ in [0]) and len(weekly.data[0].x) >= 13
    wk = hand.with_columns(pl.col("order_date").dt.truncate("1w").alias("w")).group_by("w").agg(
        pl.col("is_late").mean()).sort("w")
    assert list(weekly.data[0].y) == pytest.approx(wk["is_late"].to_list())
    # no region yet: a prompt, not an error
    assert cb.update_drilldown(None, START, END, None, None, None, None, "en", "light")[0] == "Click a region on the map."


def test_click_selects_region_and_url_state(app_factory, trained_settings):
    assert cb.select_region({"points": [{"customdata": ["PE-PUN"]}]}) == "PE-PUN"
    q = cb.update_query(START, END, ["Andes Cargo"], [], None, ["DC-LIM"], "late_rate", "PE-PUN")
    assert q == {"start": START, "end": END, "metric": "late_rate", "region": "PE-PUN", "carrier": "Andes Cargo",
                 "mode": None, "category": None, "dc": "DC-LIM"}
    # the page reads the same keys back and tolerates unknown ones
    layout = view.layout(start=START, end=END, carrier="Andes Cargo", dc="DC-LIM", metric="late_rate",
                         region="PE-PUN")
    assert "Andes Cargo" in str(layout) and "PE-PUN" in str(layout)
    app_factory(trained_settings)  # pages register once an app exists
    import pages.logistics as page

    assert "logistics-map" in str(page.layout(start="nonsense", foo="bar", region="x" * 500))


def test_export_contains_all_filtered_rows(lrt, trained_dir: Path):
    flt = cb.parse_filter(START, END, None, None, None, None)
    frame = lq.export_orders(lrt.engine, lrt.settings.models_dir, flt)
    text = cb.export_text(frame.to_dicts(), "es")
    rows = list(csv.DictReader(io.StringIO(text)))
    hand = _hand_filter(_scores(trained_dir))
    assert len(rows) == hand.height > lq.TOP_N  # every filtered row, not the grid page
    assert {r["order_id"] for r in rows} == set(hand["order_id"].to_list())
    assert float(rows[0]["risk_value"]) >= float(rows[-1]["risk_value"])
    assert sum(1 for r in rows if r["reasons"]) > 0.5 * len(rows)


def test_model_panel_shows_the_card(lrt, trained_dir: Path):
    table, calib, roc, imp = cb.update_model_panel(0, "en", "light")
    card = json.loads(DataDir(trained_dir).model_card.read_text())
    assert f"{card['late_risk']['roc_auc']:.3f}" in str(table)
    assert f"{card['late_risk']['roc_auc']:.3f}" in roc.layout.title.text
    rep = json.loads((DataDir(trained_dir).logistics_models / LOGISTICS_REPORT).read_text())
    assert list(calib.data[1].x) == pytest.approx(rep["calibration"]["predicted"])
    assert max(imp.data[0].x) == pytest.approx(max(rep["importance"].values()))


def test_untrained_data_dir_explains(settings):
    from web.runtime import configure

    configure(settings)  # the shared demo dataset has no logistics models
    if DataDir(settings.data_dir).logistics_models.exists():
        pytest.skip("another test trained in the shared demo dir")
    _, _, rows, status = cb.update_view(START, END, None, None, None, None, "risk", 0, "es", "light")
    assert rows == [] and "python app.py train" in str(status)


def test_non_peru_data_gets_a_ranking(trained_dir: Path, tmp_path: Path):
    """Imported (DataCo-like) orders: state names, US, no distances → rescored, ranking not map."""
    from web.runtime import configure
    from web.settings import Settings

    d = tmp_path / "data"
    shutil.copytree(trained_dir, d, ignore=shutil.ignore_patterns(".cache", "logistics_scores.parquet"))
    orders = pl.read_parquet(d / "orders.parquet")
    states = {c: f"State {i:02d}" for i, c in enumerate(sorted(orders["region"].unique().to_list()))}
    orders.with_columns(pl.col("region").replace_strict(states), pl.lit("US").alias("country"),
                        pl.lit(None, pl.Float64).alias("distance_km")).write_parquet(d / "orders.parquet")
    configure(Settings(data_dir=d, live=False, demo_feed=False, cache_dir=tmp_path / "c"))
    cb.load_options(0, None, None)  # page load rescored the changed orders
    fig, _, rows, _ = cb.update_view(START, END, None, None, None, None, "risk", 0, "en", "light")
    assert fig["data"][0]["type"] == "bar" and len(fig["data"][0]["y"]) == 25
    assert rows and rows[0]["region"].startswith("State ")
    scored = _scores(d)
    assert scored["country"].unique().to_list() == ["US"] and scored["late_risk"].is_finite().all()


def test_default_import_path_has_no_tensorflow_or_spark():
    code = ("import sys, app; from web.settings import Settings; "
            "a = app.create_app(Settings(data_dir='/nonexistent', live=False, demo_feed=False, "
            "cache_dir='/tmp/chasqui-lg-imports')); import pages.logistics, callbacks.logistics, analytics.logistics; "
            "import analytics.logistics.train, analytics.logistics.scores_table, analytics.logistics.queries; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'pyspark') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_tile_grid_covers_every_region():
    from analytics import geo

    assert set(view.TILES) == set(geo.REGION_CODES)
    assert len(set(view.TILES.values())) == len(view.TILES)  # no two regions share a tile
    assert np.all(np.array(list(view.TILES.values())) >= 0)
