"""Scenarios: backtest, mechanics (monotonicity, zero change, costs), vectorised vs loop, I/O."""

from __future__ import annotations

import json
import subprocess
import sys
from argparse import Namespace
from datetime import date, timedelta

import numpy as np
import pytest

from analytics import geo
from analytics.datadir import DataDir
from analytics.scenarios import (
    COST_PARTS,
    ScenarioError,
    ScenarioInputs,
    backtest,
    cli,
    network,
    run_scenario,
    simulate,
    simulate_loop,
)
from analytics.scenarios.calibrate import observed_late_share
from tests.conftest import ROOT

SOUTH = ("PE-APU", "PE-ARE", "PE-CUS", "PE-ICA", "PE-PUN")


@pytest.fixture(scope="module")
def engine(settings):
    from analytics.engine import make_engine

    return make_engine(settings.engine_config())


@pytest.fixture(scope="module")
def net(engine, settings):
    return network(engine, cache_dir=settings.cache_dir)


def _data_shows(engine, start: date, end: date) -> float:
    pre, _ = observed_late_share(engine, SOUTH, date(2022, 9, 10), start - timedelta(days=1))
    ep, _ = observed_late_share(engine, SOUTH, start, end)
    return ep - pre


def test_backtest_blockade_south_2022_within_25pct_and_band(engine, settings):
    out = backtest(engine, "blockade-south-2022", runs=1000, seed=0, cache_dir=settings.cache_dir)
    observed = _data_shows(engine, date(2022, 12, 10), date(2023, 2, 28))
    assert sorted(out["regions"]) == list(SOUTH)
    assert out["as_of"] == "2022-12-09"
    assert out["observed_uplift"] == pytest.approx(observed)
    assert observed > 0.15  # the episode is visible in the data
    assert abs(out["late_rate_uplift_p50"] - observed) <= 0.25 * observed
    assert out["late_rate_uplift_p10"] <= observed <= out["late_rate_uplift_p90"]
    # the blockade adds on top of the season, it is not all seasonality
    assert out["late_rate_uplift_p50"] - out["seasonal_uplift_p50"] > 0.1


def test_cli_prints_one_json_line(writable_demo_dir, capsys):
    rc = cli(Namespace(data_dir=writable_demo_dir, preset="blockade-south-2022", json=True, runs=400, seed=3))
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert d["regions"] == ["PE-PUN", "PE-CUS", "PE-APU", "PE-ARE", "PE-ICA"]
    assert d["late_rate_uplift_p10"] < d["late_rate_uplift_p50"] < d["late_rate_uplift_p90"]
    assert d["runs"] == 400 and d["seed"] == 3


def test_cli_hypothetical_preset_json_keys(writable_demo_dir, capsys):
    """A hypothetical preset (no episode to backtest): the scenario's uplift over business as usual."""
    assert cli(Namespace(data_dir=writable_demo_dir, preset="central-closure-2w", json=True, runs=200, seed=1)) == 0
    d = json.loads(capsys.readouterr().out.strip())
    assert list(d) == ["preset", "regions", "late_rate_uplift_p10", "late_rate_uplift_p50", "late_rate_uplift_p90",
                       "runs", "seed", "cost_pen", "revenue_at_risk_pen", "orders_affected"]
    assert d["preset"] == "central-closure-2w" and d["runs"] == 200 and d["seed"] == 1
    assert d["late_rate_uplift_p10"] <= d["late_rate_uplift_p50"] <= d["late_rate_uplift_p90"]
    assert d["late_rate_uplift_p50"] > 0 and d["cost_pen"] > 0  # two weeks without the Carretera Central


def test_cli_unknown_preset_and_missing_data(tmp_path, writable_demo_dir):
    with pytest.raises(ScenarioError, match="unknown preset"):
        cli(Namespace(data_dir=writable_demo_dir, preset="nope", json=True, runs=10, seed=0))
    with pytest.raises(FileNotFoundError):
        cli(Namespace(data_dir=tmp_path, preset="yaku-2023", json=True, runs=10, seed=0))


def test_simulator_never_reads_the_generator():
    src = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "analytics" / "scenarios").glob("*.py"))
    assert "analytics.demo_orders" not in src and "CUT_SHARE = {" not in src
    # nor the generator's severities (drawn per seed) by any of their names
    import analytics.demo_orders as generator

    hidden = [n for n in dir(generator) if n.endswith("_RANGE") or n in ("draw_severities", "EpisodeSeverity")]
    assert len(hidden) >= 8 and not [n for n in hidden if n in src]
    code = ("import sys, analytics.scenarios as s, analytics.scenarios.planner, analytics.scenarios.simulate;"
            "print('analytics.demo_orders' in sys.modules, 'pyspark' in sys.modules, 'tensorflow' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert res.stdout.strip() == "False False False"


@pytest.mark.parametrize("field,values", [
    ("blockade_days", (0, 5, 15, 30, 60, 84)),
    ("central_days", (0, 3, 7, 14, 28)),
    ("pan_norte_days", (0, 5, 10, 20, 40)),
    ("callao_days", (0, 5, 15, 30)),
])
def test_longer_closures_never_reduce_delay(net, field, values):
    extra = {"blockade_regions": ("PE-PUN", "PE-CUS")} if field == "blockade_days" else {}
    late, days = [], []
    for v in values:
        r = simulate(net, ScenarioInputs(horizon_weeks=12, **{field: v}, **extra), runs=400, seed=1)
        late.append(float(np.mean(r.late_rate())))
        days.append(float(np.mean(r.avg_days())))
    assert all(b >= a - 1e-9 for a, b in zip(late, late[1:])), late
    assert all(b >= a - 1e-9 for a, b in zip(days, days[1:])), days
    assert late[-1] > late[0] + 0.001


def test_higher_cut_share_and_lower_capacity_never_reduce_delay(net):
    base = dict(blockade_regions=("PE-PUN",), blockade_days=40)
    late = [float(np.mean(simulate(net, ScenarioInputs(**base, blockade_cut_share=c), 400, 2).late_rate(("PE-PUN",))))
            for c in (0.1, 0.3, 0.5, 0.7, 0.9)]
    assert late == sorted(late) and late[-1] - late[0] > 0.1
    cap = [float(np.mean(simulate(net, ScenarioInputs(capacity_pct=c), 400, 2).late_rate())) for c in (0, -20, -40)]
    assert cap == sorted(cap)


def test_zero_change_reproduces_baseline_within_mc_error(engine, settings):
    o = run_scenario(engine, ScenarioInputs(), runs=1000, seed=0, with_tornado=False, with_mitigations=False,
                     cache_dir=settings.cache_dir)
    for k in ("late_rate", "avg_days", "cost_pen", "orders_affected"):
        assert getattr(o.delta, k).p10 == getattr(o.delta, k).p90 == 0.0
    # an independent set of runs (another seed) lands inside the baseline band
    net = network(engine, cache_dir=settings.cache_dir)
    other = simulate(net, ScenarioInputs(), runs=1000, seed=99)
    b = o.baseline.late_rate
    assert b.p10 <= float(np.median(other.late_rate())) <= b.p90
    assert abs(float(np.median(other.late_rate())) - b.p50) < 0.25 * (b.p90 - b.p10)


def test_baseline_forecast_matches_what_happened(engine, settings):
    """Business as usual from August 2024, learned from data before it, against the real late share."""
    start = date(2024, 8, 1)
    o = run_scenario(engine, ScenarioInputs(start=start, horizon_weeks=8), runs=1000, with_tornado=False,
                     with_mitigations=False, cache_dir=settings.cache_dir)
    observed, n = observed_late_share(engine, geo.REGION_CODES, start, start + timedelta(days=55))
    assert n > 1000
    assert abs(o.baseline.late_rate.p50 - observed) < 0.03


def test_costs_add_up(net):
    inp = ScenarioInputs(blockade_regions=("PE-PUN", "PE-CUS"), blockade_days=30, central_days=10, fuel_pct=20)
    r = simulate(net, inp, runs=500, seed=4)
    parts = np.sum([r.cost[p] for p in COST_PARTS], axis=0)
    np.testing.assert_allclose(r.total_cost, parts)
    assert (r.cost["detour"] > 0).all() and (r.cost["mode_shift"] > 0).all()
    # fuel: fuel share of cost (35-40 %) times the change, on everything that moved
    moved = r.cost["base"] + r.cost["mode_shift"] + r.cost["detour"]
    ratio = r.cost["fuel"] / moved
    assert ((ratio > 0.34 * 0.2) & (ratio < 0.41 * 0.2)).all()
    fuel_only = simulate(net, ScenarioInputs(fuel_pct=20), runs=200, seed=4)
    zero = simulate(net, ScenarioInputs(), runs=200, seed=4)
    np.testing.assert_allclose(fuel_only.cost["base"], zero.cost["base"])
    np.testing.assert_allclose(fuel_only.late, zero.late)


def test_vectorised_matches_plain_loop(net):
    inp = ScenarioInputs(blockade_regions=("PE-PUN", "PE-ARE"), blockade_days=40, nino_intensity=2,
                         pan_norte_days=10, fuel_pct=15)
    vec = simulate(net, inp, runs=1000, seed=0)
    loop = simulate_loop(net, inp, runs=150, seed=0)
    v, lp = vec.late_rate(), np.array(loop["late_rate"])
    se = np.sqrt(v.var() / v.size + lp.var() / lp.size)
    assert abs(v.mean() - lp.mean()) < 4 * se + 1e-3
    assert lp.std() == pytest.approx(v.std(), rel=0.35)


def test_mitigations_and_tornado(engine, settings):
    inp = ScenarioInputs(blockade_regions=("PE-PUN", "PE-CUS", "PE-APU"), blockade_days=40, fuel_pct=10)
    o = run_scenario(engine, inp, runs=400, cache_dir=settings.cache_dir)
    assert o.tornado[0].driver == "blockade" and o.tornado[0].late_rate_pp > 1
    fuel = next(d for d in o.tornado if d.driver == "fuel")
    assert fuel.late_rate_pp == 0 and fuel.cost_pen > 0
    kinds = {m.kind: m for m in o.mitigations}
    assert set(kinds) == {"preposition", "air", "carrier"}
    assert set(kinds["air"].regions) <= set(inp.blockade_regions)
    assert kinds["preposition"].late_rate_pp.p50 < 0 and kinds["preposition"].cost_pen.p50 > 0
    assert kinds["air"].late_rate_pp.p50 < 0 and kinds["air"].cost_pen.p50 > 0


def test_inputs_validation_and_url_roundtrip():
    inp = ScenarioInputs(blockade_regions=("PE-PUN", "PE-CUS"), blockade_days=20, fuel_pct=12.5,
                         demand_pct={"toys": 30}, horizon_weeks=12)
    q = inp.to_query()
    assert "blockade_regions=PE-CUS%2CPE-PUN" in q
    assert ScenarioInputs.from_query(q) == inp
    assert ScenarioInputs.from_query({"fuel_pct": "10", "foo": "bar"}) == ScenarioInputs(fuel_pct=10)
    assert ScenarioInputs.from_dict(inp.to_dict()) == inp
    for bad in ({"horizon_weeks": 5}, {"blockade_regions": ("PE-XXX",)}, {"fuel_pct": 1000},
                {"demand_pct": {"cars": 5}}, {"blockade_cut_share": 1.5}):
        with pytest.raises(ScenarioError):
            ScenarioInputs(**bad)
    with pytest.raises(ScenarioError):
        ScenarioInputs.from_query("fuel_pct=abc")


class _FakeRisk:
    def __init__(self):
        self.frames = []

    def predict_proba(self, feats):
        self.frames.append(feats)
        return np.full(feats.height, 0.42)


class _FakeModels:
    def __init__(self, through: str):
        self.late_risk = _FakeRisk()
        self.meta = {"periods": {"train": ["2022-01-01", "2024-01-01"], "test": ["2024-07-01", through]}}


def test_trained_delay_model_is_used_only_when_it_did_not_see_the_future(engine, writable_demo_dir, tmp_path,
                                                                         monkeypatch):
    import analytics.logistics as logistics
    from analytics.engine import EngineConfig, make_engine

    DataDir(writable_demo_dir).models.mkdir(exist_ok=True)
    eng = make_engine(EngineConfig(writable_demo_dir))
    fake = _FakeModels("2024-12-31")
    monkeypatch.setattr(logistics, "load_models", lambda d: fake)
    # as of the end of the data: the model is allowed; its calendar features replace the seasonality
    net = network(eng, cache_dir=tmp_path / "c1")
    assert net.baseline_source == "model", net.notes
    assert np.allclose(net.p_late, 0.42) and not net.season_logit.any()
    scored = fake.late_risk.frames[0]
    assert scored["month"].min() >= 1 and "is_late" not in scored.columns
    r = simulate(net, ScenarioInputs(), runs=300, seed=0)
    assert float(np.median(r.late_rate())) == pytest.approx(0.42, abs=0.02)
    # a preset replayed as of 2022-12-10 must not use a model trained on data up to 2024
    old = network(eng, date(2022, 12, 10), cache_dir=tmp_path / "c2")
    assert old.baseline_source == "data"
    assert any("as-of" in n for n in old.notes)
