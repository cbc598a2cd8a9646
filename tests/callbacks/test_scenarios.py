"""Scenarios callbacks, called directly (no browser)."""

from __future__ import annotations

import csv
import io

import dash
import pytest

import callbacks.scenarios as cb
from analytics.scenarios import ScenarioError, ScenarioInputs, ScenarioOutcome
from web.runtime import configure

BLOCKADE = (["PE-PUN", "PE-CUS"], 30, 0, 0, 0, 0, 10, 0, "electronics", 0, 8)


@pytest.fixture()
def writable_rt(settings, writable_demo_dir):
    return configure(settings.replace(data_dir=writable_demo_dir))


def test_simulate_scenario_callback(rt):
    result, kpis, fig, status, query = cb.simulate_scenario(*BLOCKADE, "en", "light")
    assert result["meta"]["runs"] == 1000
    assert result["inputs"]["blockade_regions"] == ["PE-CUS", "PE-PUN"]
    assert query == "?blockade_days=30&fuel_pct=10&blockade_regions=PE-CUS%2CPE-PUN"
    assert ScenarioInputs.from_query(query) == ScenarioInputs.from_dict(result["inputs"])
    # the stored result is the outcome's JSON (same keys as ever), and reads back to the same outcome
    assert list(result) == ["inputs", "baseline", "scenario", "delta", "tornado", "mitigations", "meta"]
    assert list(result["meta"]) == ["as_of", "start", "days", "runs", "seed", "lanes", "baseline_source",
                                    "port_calibration", "notes", "reference_window", "elapsed_s"]
    assert isinstance(result["meta"]["as_of"], str) and len(result["meta"]["reference_window"]) == 2
    outcome = ScenarioOutcome.from_dict(result)
    assert outcome.to_dict() == result and outcome.meta.as_of.isoformat() == result["meta"]["as_of"]
    assert outcome.scenario.by_region["PE-PUN"].late_rate.p50 == result["scenario"]["by_region"]["PE-PUN"]["late_rate"]["p50"]
    for forged in (None, {}, {**result, "meta": {"as_of": "yesterday"}}, {**result, "baseline": []}):
        with pytest.raises(ScenarioError):
            ScenarioOutcome.from_dict(forged)
    # the figure shows the result's numbers: Puno's scenario bar is its P50; regions are named (codes on hover)
    scen = next(tr for tr in fig.data if tr.name == "Scenario")
    assert len(scen.x) == 25 and not any(str(x).startswith("PE-") for x in scen.x)
    i = list(scen.x).index("Puno")
    assert scen.customdata[i] == "PE-PUN" and "%{customdata}" in scen.hovertemplate
    assert scen.y[i] == pytest.approx(result["scenario"]["by_region"]["PE-PUN"]["late_rate"]["p50"])
    assert scen.y[i] > result["baseline"]["by_region"]["PE-PUN"]["late_rate"]["p50"] + 0.05
    assert "1000 runs" in status
    # KPI cards: the late-rate card shows the scenario P50 as a percentage
    text = str(kpis)
    assert f"{100 * result['scenario']['late_rate']['p50']:.1f}%" in text
    assert "S/ " in text


def test_simulate_scenario_bad_input_shows_error(rt):
    bad = list(BLOCKADE)
    bad[0] = ["PE-XXX"]
    result, kpis, _, _, query = cb.simulate_scenario(*bad, "es", "light")
    assert result is None and "PE-XXX" in str(kpis) and "No se pudo simular" in str(kpis)


def test_insights_callback(rt):
    result = cb.simulate_scenario(*BLOCKADE, "es", "light")[0]
    progress = []
    fig, mitigations = cb.scenario_insights(progress.append, result, "es", "light")
    assert progress[-1] == (100,) and len(progress) >= 3
    bars = fig.data[0]
    assert bars.y[-1] == "Bloqueos"  # the biggest driver is drawn on top
    assert bars.x[-1] > 0.5  # network-wide percentage points (two regions of 25)
    assert "Pre-posicionar" in str(mitigations) and "p.p." in str(mitigations)
    assert "Puno" in str(mitigations) and "PE-PUN" not in mitigations.children[0].children[0].children
    # nothing moved from business as usual: no bars to rank, the chart says what to do
    calm = cb.simulate_scenario([], 0, 0, 0, 0, 0, 0, 0, "electronics", 0, 8, "es", "light")[0]
    fig, mitigations = cb.scenario_insights(progress.append, calm, "es", "light")
    assert not fig.data and fig.layout.annotations[0].text.startswith("Mueva un control")
    assert not fig.layout.xaxis.visible and not fig.layout.yaxis.visible


def test_apply_preset_sets_controls():
    values = cb.apply_preset("blockade-south-2022")
    assert values[0] == ["PE-APU", "PE-ARE", "PE-CUS", "PE-ICA", "PE-PUN"]
    assert values[1] == 81 and values[-1] == 12
    yaku = cb.apply_preset("yaku-2023")
    assert yaku[2] == 2 and yaku[3] == 13


def test_save_compare_and_export(writable_rt):
    result = cb.simulate_scenario(*BLOCKADE, "es", "light")[0]
    options, status = cb.save_current(1, "Bloqueo sur", result, "es")
    assert options == [{"label": "Bloqueo sur", "value": "Bloqueo sur"}]
    assert "guardado" in status
    zero = cb.simulate_scenario([], 0, 0, 0, 0, 0, 0, 0, "electronics", 0, 8, "es", "light")[0]
    options, _ = cb.save_current(2, "Normal", zero, "es")
    assert [o["value"] for o in options] == ["Bloqueo sur", "Normal"]
    _, err = cb.save_current(3, "   ", zero, "es")
    assert "necesita un nombre" in str(err)
    fig = cb.compare_saved(["Bloqueo sur", "Normal"], "es", "light")
    y = {tr.name: tr.y[0] for tr in fig.data}
    assert y["Bloqueo sur"] > y["Normal"]
    empty = cb.compare_saved([], "es", "light")  # nothing picked yet: how to fill it, no empty axes
    assert not empty.data and empty.layout.annotations[0].text.startswith("Guarde un escenario")
    sent = cb.export_csv(1, result)
    rows = list(csv.DictReader(io.StringIO(sent["content"])))
    late = next(r for r in rows if r["scope"] == "network" and r["metric"] == "late_rate")
    assert float(late["scenario_p50"]) == pytest.approx(result["scenario"]["late_rate"]["p50"], rel=1e-5)
    parts = [r for r in rows if r["metric"].startswith("cost_") and r["metric"] != "cost_pen"]
    total = next(r for r in rows if r["metric"] == "cost_pen")
    assert sum(float(r["scenario_p50"]) for r in parts) == pytest.approx(float(total["scenario_p50"]), rel=0.02)
    assert any(r["scope"] == "PE-PUN" for r in rows)


def test_page_layout_tolerates_unknown_keys_and_reads_url(settings, app_factory):
    app_factory(settings)  # registers the pages
    from pages import scenarios as page

    layout = page.layout(blockade_days="25", blockade_regions="PE-PUN,PE-BAD", fuel_pct="x", whatever="1")

    from components import ids
    from tests.fixtures.web import find_component as find

    assert find(layout, ids.SCENARIOS_BLOCK_DAYS).value == 25
    assert find(layout, ids.SCENARIOS_FUEL).value == 0
    # the layout keeps region codes by shape; the options callback (on load) keeps the known ones only
    regions = find(layout, ids.SCENARIOS_BLOCK_REGIONS)
    assert regions.value == ["PE-PUN", "PE-BAD"] and regions.options == []
    opts = cb.control_options("es", regions.value, find(layout, ids.SCENARIOS_DEMAND_CAT).value,
                              find(layout, ids.SCENARIOS_HORIZON).value)
    assert opts[2] == ["PE-PUN"]
    assert page.layout() is not None  # Dash builds the validation layout with no arguments


def test_control_options_come_from_analytics():
    from analytics import geo
    from analytics.scenarios import CATEGORIES, DEFAULT_HORIZON, HORIZONS, presets

    preset_opts, region_opts, regions, cat_opts, cat, horizon_opts, horizon = cb.control_options(
        "es", ["PE-CUS", "<SCRIPT>"], "toys", 12)
    assert [o["value"] for o in preset_opts] == list(presets()) and len(preset_opts) == 6
    assert [o["value"] for o in region_opts] == list(geo.REGION_CODES) and len(region_opts) == 25
    assert next(o["label"] for o in region_opts if o["value"] == "PE-PUN") == "Puno"  # named; the code is the value
    assert regions == ["PE-CUS"]
    assert [o["value"] for o in cat_opts] == list(CATEGORIES) and cat is dash.no_update
    assert [o["value"] for o in horizon_opts] == list(HORIZONS) and horizon is dash.no_update
    # values analytics knows stay as they are (no update: no second simulation); unknown ones are replaced
    _, _, regions, _, cat, _, horizon = cb.control_options("es", ["PE-CUS"], "caviar", 5)
    assert regions is dash.no_update and cat == CATEGORIES[0] and horizon == DEFAULT_HORIZON
    _, _, regions, _, cat, _, horizon = cb.control_options("en", None, None, None)
    assert regions == [] and cat == CATEGORIES[0] and horizon == DEFAULT_HORIZON


def test_layout_reads_demand_and_horizon_from_the_url():
    from components import scenarios as ui

    assert ui.url_controls({"blockade_regions": "PE-PUN,PE-PUN,<b>", "demand_toys": "20", "horizon_weeks": "4"}) == (
        ["PE-PUN"], "toys", 4)
    assert ui.url_controls({"demand_<x>": "1", "horizon_weeks": "x"}) == ([], None, None)


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for ch in children if isinstance(children, list | tuple) else [children] if children is not None else []:
        yield from _walk(ch)


def test_replay_preset_as_of_its_episode_shows_the_backtest(rt):
    from analytics.scenarios import backtest
    from components import ids

    view, query = cb.replay_episode("callao-congestion-2024", True, "en", "light")
    assert query == "preset=callao-congestion-2024&replay=1"
    expected = backtest(rt.engine, "callao-congestion-2024", cache_dir=rt.settings.cache_dir)
    fig = next(n for n in _walk(view) if getattr(n, "id", None) == ids.SCENARIOS_BACKTEST_FIG).figure
    band, p50, observed = fig.data
    assert band.base[0] == pytest.approx(100 * expected["late_rate_uplift_p10"])
    assert band.base[0] + band.x[0] == pytest.approx(100 * expected["late_rate_uplift_p90"])
    assert p50.x[0] == pytest.approx(100 * expected["late_rate_uplift_p50"])
    assert observed.x[0] == pytest.approx(100 * expected["observed_uplift"])
    text = " ".join(str(getattr(n, "children", "")) for n in _walk(view) if isinstance(getattr(n, "children", None), str))
    assert "Replayed as of 2024-05-14" in text and "PE-CAL, PE-LIM" in text
    assert "callao-congestion-2022" in text  # the port mechanism learned from the earlier spell
    checks = {getattr(n, "data-check", None) for n in _walk(view)} - {None}
    assert checks == {"bt.within", "bt.band"}
    # nothing to replay: switch off, a hypothetical preset, no preset, a forged name
    assert cb.replay_episode("callao-congestion-2024", False, "en", "light") == ("", "")
    msg, q = cb.replay_episode("central-closure-2w", True, "es", "light")
    assert "hipotético" in msg.children and q == ""
    assert cb.replay_episode(None, True, "en", "light")[1] == ""
    assert cb.replay_episode("nope<script>", True, "en", "light")[1] == ""


def test_layout_reads_the_replay_from_the_url():
    from components import ids
    from components import scenarios as ui

    layout = ui.layout("es", preset="yaku-2023", replay="1", whatever="x")
    nodes = {getattr(n, "id", None): n for n in _walk(layout)}
    assert nodes[ids.SCENARIOS_PRESET].value == "yaku-2023" and nodes[ids.SCENARIOS_REPLAY].value is True
    nodes = {getattr(n, "id", None): n for n in _walk(ui.layout("es", preset="<bad>", replay="0"))}
    assert nodes[ids.SCENARIOS_PRESET].value is None and nodes[ids.SCENARIOS_REPLAY].value is False
    assert ui.replay_query("yaku-2023", True) == "preset=yaku-2023&replay=1" and ui.replay_query(None, True) == ""


def test_stock_link_opens_demand_with_the_scenarios_query():
    """The "see the effect on stock" link carries the scenario shown (its URL query) to /demand, re-encoded by
    ScenarioInputs, so keys the scenario does not know (or junk) do not go along."""
    query = "?blockade_days=30&fuel_pct=10&blockade_regions=PE-CUS%2CPE-PUN&utm=x"
    href = cb.stock_link(query)
    assert href == "/demand?blockade_days=30&fuel_pct=10&blockade_regions=PE-CUS%2CPE-PUN"
    assert ScenarioInputs.from_query(href.split("?", 1)[1]) == ScenarioInputs.from_query(query)
    assert cb.stock_link("") == cb.stock_link(None) == "/demand"
    assert cb.stock_link("?blockade_days=many") == "/demand"  # a value the scenario cannot take: the plain page

