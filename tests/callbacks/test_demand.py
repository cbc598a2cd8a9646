"""Demand callbacks called directly, asserting on the numbers they show against analytics' demand_page."""

from __future__ import annotations

import base64
import io

import polars as pl
import pytest
from dash.exceptions import PreventUpdate

from analytics.demand.page_view import demand_page, page_options
from components import format as fmt
from tests.fixtures.web import find_component


@pytest.fixture(scope="module")
def cb():
    import callbacks.demand as module

    return module


@pytest.fixture
def page(rt):
    """The reference: analytics' page at the defaults (the forecast it fits is kept in the runtime's cache)."""
    return demand_page(rt.engine, rt.settings.data_dir, horizon=8, service_level=0.95,
                       cache_dir=rt.settings.cache_dir)


def _cells(div) -> list[list[str]]:
    """The body cells of the first table in ``div``."""
    table = next(c for c in div.children if type(c).__name__ == "Table")
    return [[td.children for td in tr.children] for tr in table.children[1].children]


def _run(cb, *args):
    progress: list[tuple[int, str]] = []
    out = cb.update_demand(progress.append, *args)
    return out, progress


def test_update_demand_numbers(cb, rt, page):
    (summary, status, chart, stock, comparison, backtest, dc_opts, cat_opts, query, on_hand), progress = _run(
        cb, None, None, 8, 0.95, None, "en", "light")
    fc = page.forecast
    assert status is None and progress[-1] == (100, "")
    s = fc.summary()
    assert summary == (f"{s['series']} series · forecast as of {s['as_of']} · model {fc.model} · relative MAE "
                       f"{s['relative_mae']:.3f} · 80% coverage {s['coverage_80']:.1%} · lead times: "
                       f"{page.stock.lead_time_source}")
    dcs = sorted({k[0] for k in fc.keys})
    first = dcs[0]
    cats = sorted(k[1] for k in fc.keys if k[0] == first)
    assert [o["value"] for o in dc_opts] == dcs and [o["value"] for o in cat_opts] == cats
    assert query == {"dc": first, "category": cats[0], "horizon": 8, "level": 0.95, "scenario": None}
    # the chart: the band is P90 out and P10 back, the actuals and P50 are the analytics' numbers
    actual, band = page.series_chart(first, cats[0])
    weeks = band["week_start"].to_list()
    assert len(weeks) == 8 and weeks[0] == fc.as_of
    band_trace, actual_trace, p50_trace = chart.data
    assert list(band_trace.y) == pytest.approx(band["p90"].to_list() + band["p10"].to_list()[::-1])
    assert list(actual_trace.y) == pytest.approx(actual["units"].to_list())
    assert len(actual_trace.y) == 52 and sum(actual_trace.y) > 0
    assert list(p50_trace.y) == pytest.approx(band["p50"].to_list())
    assert all(lo <= mid <= hi for lo, mid, hi in zip(band["p10"], band["p50"], band["p90"]))
    # the stock table: the first DC's categories at 95%, formatted
    rows = page.stock.table().filter(pl.col("origin_dc") == first).sort("category")
    assert _cells(stock) == [[r["category"], fmt.number(r["demand_per_day"], 1), fmt.number(r["safety_stock"], 0),
                              fmt.number(r["reorder_point"], 0), fmt.number(r["lead_time_p50_days"], 1),
                              fmt.number(r["lead_time_p90_days"], 1)] for r in rows.iter_rows(named=True)]
    # the backtest table: one row per candidate, the chosen one marked
    bt = page.backtest_table()
    cells = _cells(backtest)
    assert [c[0] for c in cells] == bt["model"].to_list()
    assert [c[1] for c in cells] == [fmt.number(x, 3) for x in bt["relative_mae"]]
    assert [c[2] for c in cells] == [fmt.pct(x) for x in bt["coverage_80"]]
    assert [c[6] for c in cells].count("yes") == 1 and cells[bt["chosen"].arg_max()][6] == "yes"
    # no scenario: a sentence, not an empty table; no on-hand file: nothing said about one
    assert "Pick a scenario" in comparison.children
    assert on_hand is None


def test_a_chosen_series_and_a_higher_service_level(cb, page):
    fc = page.forecast
    dc, cat = sorted(fc.keys)[-1]
    (_, status, chart, stock95, *_rest), _ = _run(cb, dc, cat, 8, 0.95, None, "es", "light")
    assert status is None and chart.layout.title.text.startswith(f"{dc} · {cat}")
    (_, status, _, stock99, *_rest), _ = _run(cb, dc, cat, 8, 0.99, None, "es", "light")
    assert status is None
    num = lambda s: float(s.replace(",", "").replace("\u202f", "").replace(" ", ""))  # noqa: E731
    lo, hi = _cells(stock95), _cells(stock99)
    assert [r[0] for r in lo] == [r[0] for r in hi]
    assert all(num(b[3]) >= num(a[3]) for a, b in zip(lo, hi))  # reorder points
    assert sum(num(b[2]) for b in hi) > sum(num(a[2]) for a in lo)  # safety stock


def test_scenario_preset_shows_the_affected_dcs_side_by_side(cb, rt, page):
    (_, status, *_mid, comparison, _bt, _d, _c, query, _oh), _ = _run(
        cb, None, None, 8, 0.95, "blockade-south-2022", "en", "light")
    assert status is None and query["scenario"] == "blockade-south-2022"
    ref = demand_page(rt.engine, rt.settings.data_dir, horizon=8, service_level=0.95, scenario="blockade-south-2022",
                      cache_dir=rt.settings.cache_dir)
    affected = sorted(ref.scenario.affected_dcs)
    cells = _cells(comparison)
    assert [r[0] for r in cells] == affected and "DC-PIU" not in affected
    table = ref.stock_comparison().filter(pl.col("affected"))
    for r in cells:
        dc = table.filter(pl.col("origin_dc") == r[0])
        assert r[3] == fmt.number(dc["baseline_safety_stock"].sum(), 0)
        assert r[4] == fmt.number(dc["scenario_safety_stock"].sum(), 0)
        assert r[6] == fmt.number(dc["scenario_reorder_point"].sum(), 0)
        assert dc["scenario_reorder_point"].sum() > dc["baseline_reorder_point"].sum()


@pytest.mark.parametrize(("args", "message"), [
    ((13, 0.95, None), "horizon must be a whole number of weeks from 1 to 12"),
    ((8, 1.5, None), "service level must be between 0.5 and 0.999"),
    ((8, 0.95, "no-such-preset"), "unknown scenario preset"),
])
def test_bad_controls_say_why(cb, args, message):
    (summary, status, chart, stock, *_), _ = _run(cb, None, None, *args, "en", "light")
    assert message in status.children and message in chart.layout.annotations[0].text
    assert message in stock.children


def test_nothing_runs_before_the_controls_have_their_limits(cb):
    with pytest.raises(PreventUpdate):
        cb.update_demand(lambda _: None, None, None, None, 0.95, None, "es", "light")


def test_control_options_come_from_analytics(cb):
    opts = page_options()
    horizons, h, smin, smax, marks, level, presets, scenario = cb.control_options("es", None, None, "junk")
    assert [o["value"] for o in horizons] == list(range(1, 13)) and h == opts["horizon"]["default"] == 8
    assert (smin, smax, level) == (0.5, 0.999, 0.95) and sorted(marks) == opts["service_level"]["marks"]
    assert [o["value"] for o in presets] == opts["scenario_presets"] and scenario is None
    # values from the URL inside the limits stay as they are
    _, h, *_, level, _, scenario = cb.control_options("es", 4, 0.9, "yaku-2023")
    assert (h, level, scenario) == (cb.no_update, cb.no_update, cb.no_update)


def test_export_is_every_series_forecast_as_csv(cb, page):
    out = cb.export_forecast(1, 8, 0.95, None)
    table = pl.read_csv(io.StringIO(out["content"]), try_parse_dates=True)
    assert table.columns == ["origin_dc", "category", "week_start", "p10", "p50", "p90"]
    assert table.height == page.forecast.n_series * 8
    ref = page.forecast.table()
    assert table["p50"].to_list() == pytest.approx(ref["p50"].to_list(), abs=1e-3)
    assert out["filename"].endswith(".csv") and page.forecast.as_of.isoformat() in out["filename"]
    assert cb.export_forecast(None, 8, 0.95, None) is cb.no_update


def _data_url(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def test_on_hand_upload_adds_days_of_cover_and_lists_the_rejected_rows(cb, rt, page):
    fc = page.forecast
    dc = sorted({k[0] for k in fc.keys})[0]
    cats = sorted(k[1] for k in fc.keys if k[0] == dc)
    text = "\n".join([
        "origin_dc,category,on_hand_units",
        f"{dc},{cats[0]},120",            # row 1: accepted
        f"{dc},{cats[1]},0",              # row 2: accepted (nothing on hand: 0 days)
        f"{dc},{cats[0]},50",             # row 3: duplicate
        f"{dc},{cats[2]},-4",             # row 4: negative
        "DC-NOWHERE,electronics,10",      # row 5: unknown series
        f"{dc},{cats[2]},many",           # row 6: not a number
        f"{dc},{cats[3]},35.5",           # row 7: accepted
    ]) + "\n"
    (_, status, _, stock, *_rest, on_hand), _ = _run(cb, dc, cats[0], 8, 0.95, None, "en", "light",
                                                     _data_url(text), None, "stock.csv")
    assert status is None
    ref = demand_page(rt.engine, rt.settings.data_dir, horizon=8, service_level=0.95, on_hand=text.encode(),
                      cache_dir=rt.settings.cache_dir)
    assert ref.on_hand.rows_in == 7 and len(ref.on_hand.accepted) == 3 and len(ref.on_hand.quarantined) == 4
    # the stock table gains on-hand and days-of-cover columns: the analytics' figures, a dash where none
    table = next(c for c in stock.children if type(c).__name__ == "Table")
    header = [th.children for th in table.children[0].children.children]
    assert header[-2:] == ["On hand", "Days of cover"]
    rows = ref.stock.table().filter(pl.col("origin_dc") == dc).sort("category")
    cells = _cells(stock)
    held = {cats[0]: 120.0, cats[1]: 0.0, cats[3]: 35.5}
    for r, c in zip(rows.iter_rows(named=True), cells):
        assert c[0] == r["category"]
        if r["category"] in held:
            assert r["on_hand_units"] == held[r["category"]]
            assert c[6] == fmt.number(held[r["category"]], 0)
            assert r["days_of_cover"] == pytest.approx(held[r["category"]] / r["demand_per_day"])
            assert c[7] == fmt.number(r["days_of_cover"], 1)
        else:
            assert c[6] == c[7] == "—"
    # counts add up, and every rejected row is listed with its number and the reason
    summary = on_hand.children[0].children
    assert summary == "stock.csv: 3 of 7 rows accepted, 4 rejected."
    rejected = _cells(on_hand)
    assert [r[0] for r in rejected] == [3, 4, 5, 6]
    assert "duplicate" in rejected[0][1] and ">= 0" in rejected[1][1] and "unknown series" in rejected[2][1]
    assert "not a number" in rejected[3][1]


def test_a_refused_upload_says_why_and_the_page_still_shows_the_stock(cb, rt, page):
    big = "data:text/csv;base64," + base64.b64encode(b"origin_dc,category,on_hand_units\n" + b"x" * 64).decode()
    (_, status, _, stock, *_rest, on_hand), _ = _run(cb, None, None, 8, 0.95, None, "en", "light", big, None,
                                                     "stock.xlsx")
    assert status is None and "only CSV files are accepted" in on_hand.children
    assert [th.children for th in next(c for c in stock.children if type(c).__name__ == "Table")
            .children[0].children.children][-1] == "Lead time P90 (days)"  # no cover columns without a file
    limit = int(rt.settings.upload_max_mb * 1024 * 1024)
    assert cb.upload_limit("en")[0] == limit and f"{rt.settings.upload_max_mb:g} MB" in cb.upload_limit("en")[1]
    binary = "data:text/csv;base64," + base64.b64encode(b"origin_dc\x00\x01").decode()
    *_, on_hand = _run(cb, None, None, 8, 0.95, None, "es", "light", binary, None, "stock.csv")[0]
    assert "Archivo rechazado" in on_hand.children and "binary" in on_hand.children


def test_a_custom_scenario_from_the_url_changes_only_the_affected_dcs(cb, rt, page):
    """/scenarios links here with its inputs in the query string: a 20-day blockade in Puno only."""
    from urllib.parse import parse_qsl

    from analytics.scenarios import ScenarioInputs

    inputs = ScenarioInputs(blockade_regions=("PE-PUN",), blockade_days=20)
    query = dict(parse_qsl(inputs.to_query()))
    (_, status, *_mid, comparison, _bt, _d, _c, url, _oh), _ = _run(
        cb, None, None, 8, 0.95, None, "en", "light", None, {**query, "utm": "x"}, None)
    assert status is None
    assert url["scenario"] is None and {k: url[k] for k in query} == query and "utm" not in url
    ref = demand_page(rt.engine, rt.settings.data_dir, horizon=8, service_level=0.95, scenario=inputs,
                      cache_dir=rt.settings.cache_dir)
    cmp = ref.stock_comparison()
    affected = sorted(ref.scenario.affected_dcs)
    all_dcs = sorted(set(cmp["origin_dc"]))
    assert 0 < len(affected) < len(all_dcs)
    assert comparison.children[0].children.startswith("Scenario “custom (from Scenarios)”")
    assert [r[0] for r in _cells(comparison)] == affected
    same = cmp.filter(~pl.col("affected"))
    for col in ("safety_stock", "reorder_point", "lead_time_p90_days"):
        assert (same[f"baseline_{col}"] == same[f"scenario_{col}"]).all(), col
    hit = cmp.filter(pl.col("affected"))
    assert (hit["scenario_reorder_point"] >= hit["baseline_reorder_point"]).all()
    assert hit["scenario_reorder_point"].sum() > hit["baseline_reorder_point"].sum()
    # a preset chosen on the page wins over the URL's custom scenario; a no-change query is no scenario
    (_, status, *_mid, comparison, _bt, _d, _c, url, _oh), _ = _run(
        cb, None, None, 8, 0.95, "blockade-south-2022", "en", "light", None, query, None)
    assert url["scenario"] == "blockade-south-2022" and "blockade_days" not in url
    (*_head, comparison, _bt, _d, _c, url, _oh), _ = _run(cb, None, None, 8, 0.95, None, "en", "light", None,
                                                          {"utm": "x"}, None)
    assert "Pick a scenario" in comparison.children
    (_, status, *_rest), _ = _run(cb, None, None, 8, 0.95, None, "en", "light", None, {"blockade_days": "many"}, None)
    assert "scenario from the URL" in status.children


def test_the_layout_keeps_the_urls_scenario_keys_for_the_callback():
    from components import ids
    from components.demand import layout

    page = layout(dc="DC-LIM", horizon="8", blockade_days="20", blockade_regions="PE-PUN", utm="x", junk=3)
    store = find_component(page, ids.DEMAND_SCENARIO_QUERY)
    assert store.data == {"blockade_days": "20", "blockade_regions": "PE-PUN", "utm": "x"}
