"""Logistics page: callbacks called directly, map and grid against hand-computed aggregates."""

from __future__ import annotations

import ast
import contextvars
import csv
import io
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

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


def _coloured(fig: dict) -> dict:
    """The map's regions coloured by the metric (the choropleth with a colour bar)."""
    return next(tr for tr in fig["data"] if tr["type"] == "choropleth" and tr.get("colorbar"))


def test_map_and_grid_agree_with_hand_aggregate(lrt, trained_dir: Path):
    carriers = ["Rápido Inca", "Chaski Express"]
    fig, ranking, title, kpis, rows, status = cb.update_view(START, END, carriers, None, None, None, "risk", 0,
                                                             "es", "light")
    hand = _hand_filter(_scores(trained_dir), carriers)
    by_region = hand.group_by("region").agg(pl.len().alias("n"), pl.col("late_risk").mean().alias("risk"),
                                            pl.col("is_late").mean().alias("late"))
    expected = {r["region"]: r for r in by_region.to_dicts()}
    regions = _coloured(fig)
    got = dict(zip(regions["locations"], regions["z"]))
    assert len(got) == 25 and set(got) == set(expected)  # every region of Peru, each with its own number
    assert [c[0] for c in regions["customdata"]] == regions["locations"]  # a click reports the region's code
    for region, value in got.items():
        assert value == pytest.approx(expected[region]["risk"], abs=1e-9), region
    assert regions["zmin"] == 0 and regions["zmax"] == pytest.approx(by_region["risk"].max())
    assert all("<b>" + cb.REGION_NAMES[c] + "</b>" in h for c, h in zip(regions["locations"], regions["hovertext"]))
    # the ranking beside it: the same 25 numbers as bars, worst on top, named, clickable by code
    bars = ranking["data"][0]
    assert bars["type"] == "bar" and len(bars["x"]) == 25
    assert dict(zip([c[0] for c in bars["customdata"]], bars["x"])) == pytest.approx(got)
    assert bars["x"] == sorted(bars["x"])  # drawn bottom-up: the top bar is the worst region
    assert bars["y"][-1] == cb.REGION_NAMES[max(got, key=got.get)]
    assert title == "Regiones ordenadas por riesgo previsto"
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
    fig, ranking, title, *_ = cb.update_view(START, END, None, ["standard"], None, None, "late_rate", 0, "en", "dark")
    hand = _hand_filter(_scores(trained_dir)).filter(pl.col("shipping_mode") == "standard")
    late = dict(hand.group_by("region").agg(pl.col("is_late").mean()).iter_rows())
    regions = _coloured(fig)
    got = dict(zip(regions["locations"], regions["z"]))
    assert len(got) == 25 and got == pytest.approx(late)
    assert regions["colorbar"]["title"]["text"] == "Historical late rate"
    assert dict(zip([c[0] for c in ranking["data"][0]["customdata"]], ranking["data"][0]["x"])) == pytest.approx(late)
    assert title == "Regions ranked by historical late rate"


def test_empty_dates_mean_last_30_days_and_bad_input_is_explained(lrt, trained_dir: Path):
    *_, rows, status = cb.update_view(None, None, None, None, None, None, "risk", 0, "es", "light")
    recent = _scores(trained_dir).filter(pl.col("order_date") >= date(2024, 12, 2))
    assert f"{recent.height:,}" in str(status)
    fig, ranking, _, kpis, rows, status = cb.update_view("2024-13-45", END, None, None, None, None, "risk", 0, "es",
                                                         "light")
    assert rows == [] and "No se pudo completar" in str(status)
    assert "No se pudo completar" in fig.layout.annotations[0].text and not fig.data  # a sentence, no frame
    fig, ranking, _, _, rows, status = cb.update_view(START, END, ["No Such Carrier"], None, None, None, "risk", 0,
                                                      "es", "light")
    assert rows == [] and "No hay pedidos" in str(status)
    assert "No hay pedidos" in fig.layout.annotations[0].text and "No hay pedidos" in ranking.layout.annotations[0].text


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
    # no region yet: a prompt, not an error, and the two charts say what to do instead of drawing empty axes
    title, heat, weekly = cb.update_drilldown(None, START, END, None, None, None, None, "en", "light")
    assert title == "Click a region on the map."
    for fig in (heat, weekly):
        assert not fig.data and not fig.layout.xaxis.visible and not fig.layout.yaxis.visible
        assert fig.layout.annotations[0].text.startswith("Click a region on the map or in the ranking")
    # a region without orders under these filters says so
    title, heat, _ = cb.update_drilldown("PE-CAJ", START, END, ["No Such Carrier"], None, None, None, "es", "light")
    assert "Cajamarca" in title and heat.layout.annotations[0].text == "No hay pedidos de Cajamarca con estos filtros."


def test_click_selects_region_and_url_state(app_factory, trained_settings):
    assert cb.select_region({"points": [{"customdata": ["PE-PUN"]}]}) == "PE-PUN"
    # a click on the map or on a ranking bar: the one that fired decides
    for fired, want in (("logistics-map.clickData", "PE-PUN"), ("logistics-ranking.clickData", "PE-CAL")):
        def run(fired: str = fired) -> object:
            context_value.set(AttributeDict(triggered_inputs=[{"prop_id": fired, "value": {}}]))
            return cb.select_region({"points": [{"customdata": ["PE-PUN"], "location": "PE-PUN"}]},
                                    {"points": [{"customdata": ["PE-CAL"]}]})

        assert contextvars.copy_context().run(run) == want
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
    # the bootstrap 95% intervals of ROC AUC, ECE and P90 coverage are shown next to each figure
    lo, hi = card["late_risk"]["intervals"]["roc_auc"]
    assert f"{card['late_risk']['roc_auc']:.3f} (95% CI: {lo:.3f}–{hi:.3f})" in str(table)
    lo, hi = card["late_risk"]["intervals"]["ece"]
    assert f"{card['late_risk']['ece']:.3f} (95% CI: {lo:.3f}–{hi:.3f})" in str(table)
    lo, hi = card["delivery_days"]["intervals"]["p90_coverage"]
    assert f"(95% CI: {lo:.1%}–{hi:.1%})" in str(table)


def test_untrained_data_dir_explains(settings):
    from web.runtime import configure

    configure(settings)  # the shared demo dataset has no logistics models
    if DataDir(settings.data_dir).logistics_models.exists():
        pytest.skip("another test trained in the shared demo dir")
    fig, ranking, _, _, rows, status = cb.update_view(START, END, None, None, None, None, "risk", 0, "es", "light")
    assert rows == [] and "python app.py train" in str(status)
    assert "python app.py train" in fig.layout.annotations[0].text  # the map's place says what to do


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
    fig, ranking, _, _, rows, _ = cb.update_view(START, END, None, None, None, None, "risk", 0, "en", "light")
    assert ranking["data"][0]["type"] == "bar" and len(ranking["data"][0]["y"]) == 25
    assert ranking["data"][0]["y"][0].endswith("(US)")  # imported regions keep their country
    assert not fig.data and "not Peru's" in fig.layout.annotations[0].text  # no map: a sentence says why
    assert rows and rows[0]["region"].startswith("State ")
    scored = _scores(d)
    assert scored["country"].unique().to_list() == ["US"] and scored["late_risk"].is_finite().all()


def _loaded_after(tmp_path, then: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` a fresh interpreter has loaded after creating the app and running ``then``."""
    code = ("import sys, app; from web.settings import Settings; "
            "a = app.create_app(Settings(data_dir='/nonexistent', live=False, demo_feed=False, "
            f"cache_dir={str(tmp_path / 'cache')!r})); {then}; "
            f"print(sorted(m for m in {names!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def test_default_import_path_has_no_tensorflow_or_spark(tmp_path):
    then = ("import pages.logistics, callbacks.logistics, analytics.logistics, analytics.logistics.train, "
            "analytics.logistics.scores_table, analytics.logistics.queries")
    assert _loaded_after(tmp_path, then, ("tensorflow", "keras", "pyspark")) == []


def test_the_app_starts_without_scikit_learn_or_scipy(tmp_path):
    """What a gunicorn worker does at boot (create the app) imports neither scikit-learn nor SciPy (2-3 CPU-s per
    worker): only the code that fits, scores or names does, when it runs; the job processes get them from their
    fork server. pandas is imported there, before any thread starts (Plotly's validators read a half-imported
    pandas)."""
    assert _loaded_after(tmp_path, "pass", ("sklearn", "scipy", "pandas")) == ["pandas"]


def test_map_draws_every_region_dcs_and_corridors():
    """Peru's 25 outlines even where a filter leaves no orders (plain colour), the nine DCs where they are,
    one dashed line per main corridor through its towns, region names on the map."""
    from analytics import geo

    rows = [{"region": "PE-PUN", "mean_risk": 0.4, "late_rate": 0.3, "orders": 10, "value_pen": 100.0}]
    fig = view.map_figure(rows, geo.region_outlines(), cb.REGION_NAMES, "risk", "es", "light", cb.DC_POINTS,
                          geo.CORRIDOR_ROUTES)
    plain, coloured = fig["data"][0], _coloured(fig)
    assert coloured["locations"] == ["PE-PUN"] and coloured["z"] == [0.4]
    assert sorted(plain["locations"] + coloured["locations"]) == sorted(geo.REGION_CODES)
    assert all(h.endswith("sin datos") for h in plain["hovertext"])
    dcs = next(tr for tr in fig["data"] if tr["name"] == "Centros de distribución")
    assert list(zip(dcs["lat"], dcs["lon"])) == [(d.lat, d.lon) for d in geo.DCS]
    roads = [tr for tr in fig["data"] if tr.get("legendgroup") == "corridors"]
    assert len(roads) == len(geo.CORRIDOR_ROUTES) and all(tr["line"]["dash"] == "dash" for tr in roads)
    norte = roads[list(geo.CORRIDOR_ROUTES).index("panamericana_norte")]
    assert [la for la in norte["lat"] if la is not None] == [t[1] for t in geo.CORRIDOR_ROUTES["panamericana_norte"][0]]
    labels = next(tr for tr in fig["data"] if tr.get("mode") == "text")
    assert sorted(labels["text"]) == sorted(cb.REGION_NAMES.values())
    assert fig["layout"]["geo"]["visible"] is False and fig["layout"]["geo"]["fitbounds"] == "geojson"
