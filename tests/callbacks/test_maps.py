"""Maps of Peru across the pages: the Overview map's numbers, light/dark restyling, offline configuration,
and no chart drawn as an empty frame before it has data."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from dash import dcc

from analytics import geo
from components import ids, maps
from tests.conftest import ROOT
from tests.fixtures.web import find_component

START, END = "2023-01-01", "2023-06-30"


def _coloured(fig: dict) -> dict:
    return next(tr for tr in fig["data"] if tr["type"] == "choropleth" and tr.get("colorbar"))


def _orders(demo_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(demo_dir / "orders.parquet").filter(
        pl.col("order_date").is_between(pl.date(2023, 1, 1), pl.date(2023, 6, 30)))


@pytest.mark.parametrize("metric,column", [("revenue", "amount_pen"), ("orders", None)])
def test_overview_map_colours_every_region_by_its_total(rt, demo_dir, metric, column):
    """25 regions, each coloured by log10 of its revenue (or orders) in the range, late rate on hover."""
    from callbacks.overview import update_overview

    *_, fig = update_overview(START, END, "es", "light", metric)
    orders = _orders(demo_dir)
    agg = orders.group_by("region").agg(pl.col("amount_pen").sum().alias("amount_pen"), pl.len().alias("n"),
                                        pl.col("is_late").mean().alias("late"))
    want = {r["region"]: r for r in agg.to_dicts()}
    regions = _coloured(fig)
    got = dict(zip(regions["locations"], regions["z"]))
    assert len(got) == 25 and set(got) == set(geo.REGION_CODES)
    for code, z in got.items():
        total = want[code][column] if column else want[code]["n"]
        assert 10 ** z == pytest.approx(total, rel=1e-9), code
    lima = regions["hovertext"][regions["locations"].index("PE-LIM")]
    assert "<b>Lima</b>" in lima and f"{100 * want['PE-LIM']['late']:.1f}%" in lima
    assert f"{want['PE-LIM']['n']:,}" in lima
    # the colour bar speaks soles (or orders), not logarithms
    bar = regions["colorbar"]
    assert [10 ** v for v in bar["tickvals"]] == pytest.approx([float(s) for s in maps_ticks(bar)], rel=1e-9)
    assert (bar["ticktext"][0].startswith("S/ ")) == (metric == "revenue")
    assert regions["zmin"] == pytest.approx(min(got.values())) and regions["zmax"] == pytest.approx(max(got.values()))


def maps_ticks(bar: dict) -> list[float]:
    """The colour bar's labels read back as numbers (``S/ 200 mil`` → 200000, ``1,000`` → 1000)."""
    out = []
    for text in bar["ticktext"]:
        t = text.replace("S/ ", "").replace(",", "")
        mult = 1e6 if t.endswith(" M") else 1e3 if t.endswith(" mil") else 1
        out.append(float(t.split(" ")[0]) * mult)
    return out


def test_overview_without_data_writes_why_in_every_chart(rt):
    from callbacks.overview import update_overview

    kpis, trend, ranking, status, query, fig = update_overview("1990-01-01", "1990-02-01", "es", "dark")
    for f in (trend, ranking, fig):
        assert not f.data and f.layout.annotations[0].text == "No hay datos en este rango de fechas."
        assert f.layout.template.layout.paper_bgcolor == "#212529"


def _layer_colors(fig: dict) -> dict[str, object]:
    """What the theme decides on a map: borders, plain regions, text, landmarks, the page behind."""
    regions = next(tr for tr in fig["data"] if tr["type"] == "choropleth")
    plain = next((tr for tr in fig["data"] if tr["type"] == "choropleth" and not tr.get("colorbar")), None)
    text = next(tr for tr in fig["data"] if tr.get("textfont"))
    return {"border": regions["marker"]["line"]["color"], "empty": plain["colorscale"][0][1] if plain else None,
            "text": text["textfont"]["color"], "paper": fig["layout"]["template"]["layout"]["paper_bgcolor"],
            "font": fig["layout"]["template"]["layout"]["font"]["color"]}


def test_light_and_dark_restyle_every_map(rt, demo_dir):
    """Each page's map in both themes: the theme's border, plain-region, text and page colours, not the other's."""
    from callbacks import sourcing
    from callbacks.overview import update_overview
    from components import logistics as lview
    from components import traceability as tview

    names = {r.code: r.name for r in geo.REGIONS}
    row = [{"region": "PE-PUN", "mean_risk": 0.4, "late_rate": 0.3, "orders": 10, "value_pen": 100.0}]
    path = [{"name": "Fundo Chao", "lat": -8.54, "lon": -78.68, "cte": "Harvesting"},
            {"name": "Terminal portuario del Callao", "lat": -12.05, "lon": -77.15, "cte": "Shipping"}]
    leg = [{"from": "Terminal portuario del Callao", "lat": -12.05, "lon": -77.15, "to": "Tokyo Superfoods K.K.",
            "country": "JP", "heading": 312.0}]

    def build(theme: str) -> dict[str, dict]:
        return {
            "logistics": lview.map_figure(row, geo.region_outlines(), names, "risk", "es", theme),
            "overview": update_overview(START, END, "es", theme, "revenue")[-1],
            "traceability": tview.map_figure(path, leg, [], geo.region_outlines(), names, "es", theme),
            "sourcing": sourcing.update_ranking(["cacao"], [40, 30, 20, 10], sourcing.weight_slider_ids(), 0, "es",
                                                theme)[2],
        }

    light, dark = build("light"), build("dark")
    for page in light:
        lc, dc = _layer_colors(light[page]), _layer_colors(dark[page])
        has_plain = page != "overview"  # every region has orders in the range: none left plain
        assert lc == {"border": maps.COLORS["light"].border, "empty": maps.COLORS["light"].empty if has_plain else None,
                      "text": maps.COLORS["light"].text, "paper": "white", "font": "#2a3f5f"}, page
        assert dc == {"border": maps.COLORS["dark"].border, "empty": maps.COLORS["dark"].empty if has_plain else None,
                      "text": maps.COLORS["dark"].text, "paper": "#212529", "font": "#f2f5fa"}, page
        assert lc != dc
        for fig in (light[page], dark[page]):
            assert fig["layout"]["geo"]["visible"] is False and fig["layout"]["geo"]["bgcolor"] == "rgba(0,0,0,0)"
    # the journey itself takes the theme's route colour (a lighter red on the dark page)
    route = {th: next(tr for tr in figs["traceability"]["data"] if tr["name"] == "path")["line"]["color"]
             for th, figs in (("light", light), ("dark", dark))}
    assert route == {"light": maps.COLORS["light"].path, "dark": maps.COLORS["dark"].path}


def test_map_graphs_fetch_plotly_base_layer_from_the_app(settings, app_factory):
    """plotly.js asks every geo map for ``<topojsonURL>world_110m.json``: ours points at the app's assets, the
    file is there and is a valid (empty) topology, and the app serves it."""
    from components import logistics, overview, sourcing, traceability

    cfg = maps.graph_config()
    assert cfg["topojsonURL"] == "/assets/plotly-geo/" and cfg["scrollZoom"] is False
    stub = json.loads((ROOT / "assets" / "plotly-geo" / "world_110m.json").read_text())
    assert stub["type"] == "Topology" and stub["arcs"] == []
    assert {"land", "countries", "coastlines", "ocean", "lakes", "rivers", "subunits"} <= set(stub["objects"])
    for layout, graph_id in ((logistics.layout(), ids.LOGISTICS_MAP), (overview.layout(), ids.OVERVIEW_MAP),
                             (traceability.layout(), ids.TRACE_MAP), (sourcing.layout(), ids.SOURCING_MAP)):
        graph = find_component(layout, graph_id)
        assert graph.config["topojsonURL"] == "/assets/plotly-geo/", graph_id
    app = app_factory(settings)
    with app.server.test_client() as client:
        res = client.get("/assets/plotly-geo/world_110m.json")
        assert res.status_code == 200 and res.get_json()["type"] == "Topology"


def _graphs(node) -> list[dcc.Graph]:
    found = [node] if isinstance(node, dcc.Graph) else []
    children = getattr(node, "children", None)
    for ch in children if isinstance(children, list | tuple) else [children] if children is not None else []:
        found += _graphs(ch)
    return found


def test_no_chart_starts_as_an_empty_frame():
    """Before any callback answers, every chart on these pages holds a sentence (and no axes), never blank axes."""
    from components import logistics, overview, scenarios, segments, sourcing, traceability

    layouts = {"overview": overview.layout(), "logistics": logistics.layout(), "segments": segments.layout(),
               "scenarios": scenarios.layout("es"), "traceability": traceability.layout(),
               "sourcing": sourcing.layout()}
    for page, layout in layouts.items():
        graphs = [g for g in _graphs(layout) if g.id != ids.OVERVIEW_LIVE]
        assert graphs, page
        for g in graphs:
            fig = getattr(g, "figure", None)
            if isinstance(getattr(g, "id", None), dict):
                continue  # pattern-matched sparklines (live tiles): filled by their own callback
            assert fig is not None, (page, g.id)
            layout_ = fig.layout if hasattr(fig, "layout") else fig["layout"]
            text = [a.text for a in layout_.annotations]
            assert text and all(text), (page, g.id)
            assert layout_.xaxis.visible is False and layout_.yaxis.visible is False, (page, g.id)


def test_log_ticks_are_round_numbers_inside_the_range():
    from components.overview import log_ticks

    assert log_ticks(40_000, 12_000_000) == [100_000, 1_000_000, 10_000_000]
    assert log_ticks(150, 900) == [200, 500]
    assert log_ticks(101, 102) == [101, 102]
