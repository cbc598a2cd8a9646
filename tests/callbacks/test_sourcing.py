"""Sourcing callbacks called directly, with the numbers they produce checked."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from analytics import storage
from analytics.sourcing.ranking import CRITERIA, DEFAULT_WEIGHTS
from analytics.sourcing.sustainability import score_components
from callbacks import sourcing as cb
from components import sourcing as view
from components.i18n import current_lang
from web.runtime import configure
from web.settings import Settings

W = cb.weight_slider_ids()  # what Dash passes for the sliders' ids: one per criterion, in the ranking's order


def test_ingredient_names_cover_the_catalogue() -> None:
    from analytics.sourcing.ingredients import INGREDIENT_BY_ID, INGREDIENT_IDS

    assert tuple(view.INGREDIENTS) == INGREDIENT_IDS
    for k, (es, en) in view.INGREDIENTS.items():
        assert es == INGREDIENT_BY_ID[k].name_es and en == INGREDIENT_BY_ID[k].name_en
    assert set(view.TEXT["es"]) == set(view.TEXT["en"])


def test_ranking_all_weight_on_price(rt, suppliers: pl.DataFrame) -> None:
    rows, breakdown, map_fig, pareto, status, query = cb.update_ranking(
        ["cacao", "maca"], [0, 100, 0, 0], W, 0, "es", "light")
    n = suppliers.filter(pl.col("ingredient_id").is_in(["cacao", "maca"])).height
    assert len(rows) == n
    assert query == {"ing": "cacao,maca", "w": "0,100,0,0", "minq": ""}
    for ing in ("cacao", "maca"):
        mine = [r for r in rows if r["ingredient_id"] == ing]
        assert [r["rank"] for r in mine] == list(range(1, len(mine) + 1))
        cheapest = suppliers.filter(pl.col("ingredient_id") == ing)["price_pen_kg"].min()
        assert mine[0]["price_pen_kg"] == cheapest and mine[0]["composite"] == 100.0
        assert mine[-1]["composite"] == 0.0  # the dearest gets no price points
        assert mine[0]["price"].startswith("S/ ")
    assert rows[0]["ingredient"] == "Cacao fino de aroma"
    # the model is not trained on the shared demo data: the page says so
    assert "entrenado" in str(status)
    # breakdown stacks the four criteria; with all weight on price only the price bars are non-zero
    assert [t.name for t in breakdown.data] == ["Sostenibilidad", "Precio", "Puntualidad", "Distancia"]
    assert max(breakdown.data[1].x) == 100.0 and max(breakdown.data[0].x) == 0.0
    assert len(breakdown.data[1].x) == 10  # top 5 of each of the 2 ingredients
    # map: Peru's 25 outlines, one line per ingredient from its top supplier to Lima, every supplier where it
    # is, coloured by its sustainability score, and the Lima kitchen
    assert map_fig["data"][0]["type"] == "choropleth" and len(map_fig["data"][0]["locations"]) == 25
    suppliers_trace = [t for t in map_fig["data"] if t["name"] == "Proveedor"][0]
    by_id = {r["supplier_id"]: r for r in suppliers.to_dicts()}
    ranked = [(r["ingredient_id"], r["supplier_id"]) for r in rows]
    assert len(suppliers_trace["lon"]) == n == len(ranked)
    assert suppliers_trace["lat"] == [by_id[sid]["lat"] for _, sid in ranked]
    assert suppliers_trace["marker"]["color"] == pytest.approx([r["sustainability_score"] for r in rows], abs=0.005)
    assert suppliers_trace["marker"]["cmin"] == 0 and suppliers_trace["marker"]["cmax"] == 100
    lines = [t for t in map_fig["data"] if t.get("mode") == "lines"]
    assert len(lines) == 2 and {(t["lat"][0], t["lon"][0]) for t in lines} == {
        (by_id[r["supplier_id"]]["lat"], by_id[r["supplier_id"]]["lon"]) for r in rows if r["rank"] == 1}
    assert map_fig["data"][-1]["lon"] == [-77.0428] and map_fig["data"][-1]["text"] == ["Lima (cocina)"]
    # Pareto: one points trace + one front line per ingredient, front sorted by price
    assert len(pareto.data) == 4
    front = pareto.data[1]
    assert list(front.x) == sorted(front.x) and all(b >= a for a, b in zip(front.y, front.y[1:], strict=False))


def test_ranking_co2e_and_english(rt, demo_dir: Path) -> None:
    rows, *_rest, status, _q = cb.update_ranking(["paiche"], [40, 30, 20, 10], W, 0, "en", "dark")
    scored = score_components(storage.load_table(demo_dir, "sourcing_suppliers").frame)
    by_id = dict(zip(scored["supplier_id"], scored["co2e_kg_per_kg"], strict=True))
    for r in rows:
        assert r["co2e_kg_per_kg"] == pytest.approx(by_id[r["supplier_id"]], abs=1e-4)
    air = [r for r in rows if r["mode"] == "air"]
    assert air and min(r["co2e_kg_per_kg"] for r in air) > 0.5  # flying fish out of the Amazon costs CO2e
    assert "trained" in str(status)
    assert rows[0]["source"] in {"audit", "mean"}


def test_ranking_bad_input(rt) -> None:
    out = cb.update_ranking([], [40, 30, 20, 10], W, 0, "es", "light")
    assert out[0] == [] and "al menos un insumo" in str(out[4]) and out[5] is no_update
    for fig in out[1:4]:  # breakdown, map and Pareto: the sentence saying what to do, no empty axes
        assert not fig.data and fig.layout.annotations[0].text.startswith("Elija al menos un insumo")
    out = cb.update_ranking(["cacao"], [0, 0, 0, 0], W, 0, "en", "light")
    assert out[0] == [] and "at least one weight" in str(out[4])
    out = cb.update_ranking(["cacao", "caviar"], [10, 0, 0, 0], W, 0, "en", "light")
    assert "unknown ingredient" in str(out[4])
    out = cb.update_ranking(["cacao"], ["lots", 0, 0, 0], W, 0, "en", "light")
    assert "not a number" in str(out[4])
    forged = [*W[:3], {"type": W[0]["type"], "criterion": "caviar"}]
    out = cb.update_ranking(["cacao"], [10, 0, 0, 0], forged, 0, "en", "light")
    assert out[0] == [] and "unknown criterion: 'caviar'" in str(out[4])
    out = cb.update_ranking(["cacao"], [10, 0, 0], W, 0, "en", "light")
    assert out[0] == [] and "one value per criterion" in str(out[4])
    with pytest.raises(PreventUpdate):  # the sliders are not built yet: nothing to rank with
        cb.update_ranking(["cacao"], [], [], 0, "en", "light")


def test_weight_sliders_follow_the_ranking_criteria() -> None:
    def sliders(children) -> list[tuple[dict, float]]:
        return [(div.children[1].id, div.children[1].value) for div in children]

    from_url = sliders(cb.weight_sliders([0, 100, 0, 0], "en"))
    assert [sid for sid, _ in from_url] == W and [v for _, v in from_url] == [0, 100, 0, 0]
    assert [div.children[0].children for div in cb.weight_sliders(None, "en")] == [
        "Sustainability", "Price", "Reliability", "Distance"]
    for url in (None, [10, 20], [10, 20, 30, 400], "40,30,20,10"):  # absent, too few, out of range, not parsed
        assert [v for _, v in sliders(cb.weight_sliders(url, "es"))] == [DEFAULT_WEIGHTS[c] for c in CRITERIA]
    for c in CRITERIA:  # every criterion has a slider label and a breakdown label in both languages
        for lang in ("es", "en"):
            assert view.TEXT[lang][f"w.{c}"] and view.TEXT[lang][f"c.{c}"]


def test_min_quality_filters(rt, suppliers: pl.DataFrame) -> None:
    rows, *_ = cb.update_ranking(["cafe"], [40, 30, 20, 10], W, 75, "es", "light")
    expected = suppliers.filter((pl.col("ingredient_id") == "cafe") & (pl.col("quality_score") >= 75)).height
    assert len(rows) == expected > 0
    assert all(r["quality_score"] >= 75 for r in rows)


def test_export_shortlist(rt) -> None:
    data, status = cb.export_shortlist(1, ["cacao", "quinoa"], [0, 0, 100, 0], W, 0, "3")
    assert status is no_update and data["filename"] == "chasqui_sourcing_shortlist.csv"
    rows = list(csv.DictReader(io.StringIO(data["content"])))
    assert len(rows) == 6
    assert [(r["ingredient_id"], int(r["rank"])) for r in rows] == [
        ("cacao", 1), ("cacao", 2), ("cacao", 3), ("quinoa", 1), ("quinoa", 2), ("quinoa", 3)]
    cacao = [float(r["on_time_rate"]) for r in rows[:3]]
    assert cacao == sorted(cacao, reverse=True)  # all weight on reliability
    _data, err = cb.export_shortlist(1, ["cacao"], [0, 0, 100, 0], W, 0, "99")
    assert _data is no_update and "1 to 50" in str(err)


def test_menu_mode_numbers(rt, demo_dir: Path) -> None:
    rows = [{"ingredient_id": "cacao", "kg_month": 40}, {"ingredient_id": "paiche", "kg_month": 120},
            {"ingredient_id": "caviar", "kg_month": 3}]
    out = cb.update_menu(rows, None, [100, 0, 0, 0], W, 0, "es")
    text = str(out)
    scored = score_components(storage.load_table(demo_dir, "sourcing_suppliers").frame)
    inc = {r["ingredient_id"]: r for r in scored.filter(pl.col("is_incumbent")).iter_rows(named=True)}
    current_cost = 40 * inc["cacao"]["price_pen_kg"] + 120 * inc["paiche"]["price_pen_kg"]
    current_co2e = 40 * inc["cacao"]["co2e_kg_per_kg"] + 120 * inc["paiche"]["co2e_kg_per_kg"]
    from components import format as fmt

    assert fmt.soles(current_cost) in text
    assert f"{fmt.number(current_co2e, 1)} kg" in text
    assert "Fila 3: unknown ingredient 'caviar'" in text
    empty = cb.update_menu([{"ingredient_id": None, "kg_month": None}], None, [1, 0, 0, 0], W, 0, "en")
    assert "no valid rows" in str(empty)


def test_add_menu_row() -> None:
    assert cb.add_menu_row(1, [{"ingredient_id": "maca", "kg_month": 5}]) == [
        {"ingredient_id": "maca", "kg_month": 5}, {"ingredient_id": None, "kg_month": None}]


def test_with_trained_model_incomplete_audits_use_it(trained: tuple[Path, dict]) -> None:
    d, _ = trained
    configure(Settings(data_dir=d, live=False, demo_feed=False))
    rows, *_rest, status, _q = cb.update_ranking(["paiche", "trucha", "cacao"], [40, 30, 20, 10], W, 0, "es", "light")
    assert status is None
    sources = {r["source"] for r in rows}
    assert sources == {"auditoría", "modelo"}


def test_layout_reads_the_url(settings, app_factory) -> None:
    assert current_lang() == "es"
    lay = view.layout(ing="maca,unknown,cafe", w="10,20,30,40", minq="60")
    text = str(lay)
    assert "['maca', 'cafe']" in text and "data=[10, 20, 30, 40]" in text and "value=60" in text
    # the URL's weights become the sliders' values once the page builds them (one per criterion)
    assert [div.children[1].value for div in cb.weight_sliders([10, 20, 30, 40], "es")] == [10, 20, 30, 40]
    assert view.parse_weights("1,2") == [1, 2]  # shape only: weight_sliders knows how many criteria there are
    for bad in ("0,0,0,0", "1,x", "1,200", ",".join(["1"] * 40), None):
        assert view.parse_weights(bad) is None
    assert view.parse_ingredients("nope") == list(view.DEFAULT_INGREDIENTS)
    import dash

    app_factory(settings)
    page = next(p for p in dash.page_registry.values() if p["path"] == "/sourcing")
    assert "['quinoa']" in str(page["layout"](ing="quinoa", utm_source="x", other="1"))  # unknown keys ignored
