"""Every episode preset replayed as of the day before its episode, on datasets of three seeds.

The generator draws each episode's severity per seed (data/README.md); the planner never sees it. Each
backtest's P50 rise in late rate must land within 25% (or 2 points) of the rise the data shows and inside its
own P10-P90. Datasets: 300,000 orders, core tables only (about 900 orders fall in Yaku's 26 days and regions;
at 60,000 orders sampling noise alone would be ±3 points), generated once for the module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics import geo
from analytics.demo_orders import draw_severities, generate_dataset
from analytics.engine import EngineConfig, make_engine
from analytics.scenarios import backtest, get_preset, presets
from analytics.scenarios.calibrate import months_before, observed_late_share
from analytics.scenarios.mechanisms import port_fit, priors
from analytics.scenarios.planner import within_tolerance
from tests.conftest import ROOT

# Three 300,000-order datasets (core tables only: ~3 CPU-seconds each) and twelve 1,000-run replays (~1.5 CPU-seconds
# each): about 35 CPU-seconds for the module, in `make test` (select it alone with `pytest -m backtest`). The
# `xdist_group` keeps the module on one worker so its module-scoped datasets are generated once, not once per worker.
pytestmark = [pytest.mark.backtest, pytest.mark.xdist_group("backtest")]

SEEDS = (1, 2, 3)
ORDERS = 300_000
EPISODES = tuple(e["episode"] for e in geo.DISRUPTIONS)
JSON_KEYS = {"regions", "episode", "as_of", "late_rate_uplift_p10", "late_rate_uplift_p50", "late_rate_uplift_p90",
             "observed_uplift", "within_25pct", "band_contains", "parameters"}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = {}
    for seed in SEEDS:
        d = tmp_path_factory.mktemp(f"backtest{seed}")
        generate_dataset(d, n_orders=ORDERS, seed=seed, with_extensions=False)
        out[seed] = d
    return out


@pytest.fixture(scope="module")
def results(datasets: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], dict]:
    cache = tmp_path_factory.mktemp("backtest-cache")
    out = {}
    for seed, d in datasets.items():
        engine = make_engine(EngineConfig(d))
        for name in EPISODES:
            out[(name, seed)] = backtest(engine, name, runs=1000, seed=0, cache_dir=cache)
    return out


def test_every_episode_is_a_preset_that_can_be_replayed():
    names = {n for n, p in presets().items() if p.episode}
    assert names == set(EPISODES)
    for name in EPISODES:
        p = get_preset(name)
        assert p.as_of == date.fromisoformat(next(e["start"] for e in geo.DISRUPTIONS if e["episode"] == name))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", EPISODES)
def test_backtest_within_25pct_and_inside_its_band(results, datasets, name, seed):
    out = results[(name, seed)]
    preset = get_preset(name)
    start = preset.as_of
    assert out["as_of"] == (start - timedelta(days=1)).isoformat()
    assert out["episode"][0] == start.isoformat()
    # the observed rise is what the data shows: episode days against the three months before
    engine = make_engine(EngineConfig(datasets[seed]))
    end = date.fromisoformat(out["episode"][1])
    during, n = observed_late_share(engine, preset.regions, start, end)
    before, _ = observed_late_share(engine, preset.regions, months_before(start, 3), start - timedelta(days=1))
    assert n == out["observed_orders"] > 500
    assert out["pre_late_share"] == pytest.approx(before, abs=1e-12)
    assert out["observed_uplift"] == pytest.approx(during - before, abs=1e-12)
    p10, p50, p90 = out["late_rate_uplift_p10"], out["late_rate_uplift_p50"], out["late_rate_uplift_p90"]
    observed = out["observed_uplift"]
    assert observed > 0.03  # every episode is visible in its regions
    assert abs(p50 - observed) <= max(0.25 * abs(observed), 0.02), (name, seed, p50, observed)
    assert p10 <= observed <= p90, (name, seed, p10, observed, p90)
    assert out["within_25pct"] is within_tolerance(p50, observed) is True
    assert out["band_contains"] is True
    assert out["baseline_source"] == "data"  # no trained model in these folders


@pytest.mark.parametrize("seed", SEEDS)
def test_parameter_sources(results, seed):
    """A 2024 congestion learns from the 2022 one; first episodes of their kind use the priors."""
    first_port = results[("callao-congestion-2022", seed)]["parameters"]
    second_port = results[("callao-congestion-2024", seed)]["parameters"]
    blockade = results[("blockade-south-2022", seed)]["parameters"]
    yaku = results[("yaku-2023", seed)]["parameters"]
    prior = priors()
    for params in (first_port, second_port, blockade, yaku):
        assert set(prior) <= set(params)
        assert all(set(v) >= {"value", "source"} for v in params.values())
    for name in ("port_hold_share", "port_hold_days"):
        assert first_port[name]["source"] == "prior" and first_port[name]["value"] == round(prior[name].value, 4)
        assert second_port[name]["source"] == "callao-congestion-2022"
    # the blockade is the first of its kind: priors; Yaku (March 2023) learns road cuts from it
    assert blockade["blockade_cut_share"]["source"] == "prior"
    assert yaku["blockade_cut_share"]["source"] == "blockade-south-2022"
    assert yaku["flood_hit_per_level"]["source"] == "prior"
    assert second_port["flood_hit_per_level"]["source"] == "yaku-2023"
    # a prior's uncertainty is part of the band: P10 < value < P90
    for name in ("port_hold_share", "port_hold_days"):
        assert first_port[name]["p10"] < first_port[name]["value"] < first_port[name]["p90"]
    assert blockade["baseline_late_rate"]["source"].startswith("orders 2022-09-")


@pytest.mark.parametrize("seed", SEEDS)
def test_learned_port_mechanism_recovers_the_generators_hidden_severity(datasets, seed):
    """The test may read the generator; the planner may not. The 2022 spell's fitted hold is close to what the
    seed drew (share of imported goods held and mean hold)."""
    engine = make_engine(EngineConfig(datasets[seed]))
    episode = next(e for e in geo.DISRUPTIONS if e["episode"] == "callao-congestion-2022")
    fit = port_fit(engine, episode)
    truth = next(s for s in draw_severities(seed) if s.episode == "callao-congestion-2022")
    assert fit is not None and fit.treated > 800
    assert abs(fit.share - truth.hold_chance) < 0.1, (fit, truth)
    assert abs(fit.wait_days - truth.hold_days) < 0.45, (fit, truth)
    assert abs(fit.share * fit.wait_days - truth.hold_chance * truth.hold_days) < 0.2


def test_cli_json_keeps_its_keys_and_says_where_parameters_came_from(datasets):
    d = datasets[SEEDS[0]]
    out = subprocess.run([sys.executable, "app.py", "scenario", "--preset", "callao-congestion-2024", "--json",
                          "--runs", "300", "--data-dir", str(d)], capture_output=True, text=True, cwd=ROOT,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert JSON_KEYS <= set(payload)
    assert payload["regions"] == ["PE-CAL", "PE-LIM"] and payload["as_of"] == "2024-05-14"
    assert payload["parameters"]["port_hold_days"]["source"] == "callao-congestion-2022"
    assert isinstance(payload["within_25pct"], bool) and isinstance(payload["band_contains"], bool)
