"""Scenarios: the 1,000-run Monte Carlo, vectorised over runs with NumPy, against a plain per-run
Python loop of the same model (goal: >= 20x faster). Also times a slider change (baseline +
scenario, 1,000 runs, default 8-week horizon) against the page's 1-second budget."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def run(quick: bool) -> list[dict]:
    from analytics.demo_orders import generate_dataset  # the benchmark needs data; the simulator never imports this
    from analytics.engine import EngineConfig, make_engine
    from analytics.scenarios import ScenarioInputs, network, run_scenario, simulate, simulate_loop

    n_orders = 20_000 if quick else 200_000
    runs_loop = 30 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="chasqui-bench-scn-") as tmp:
        d = Path(tmp)
        generate_dataset(d, n_orders=n_orders, seed=7)
        engine = make_engine(EngineConfig(d))
        net = network(engine)
        inp = ScenarioInputs(blockade_regions=("PE-PUN", "PE-CUS", "PE-APU"), blockade_days=30, nino_intensity=2,
                             pan_norte_days=10, fuel_pct=15)
        simulate(net, inp, 50, 0)  # warm-up
        vec_times = []
        for rep in range(3):
            t0 = time.perf_counter()
            vec = simulate(net, inp, 1000, rep)
            vec_times.append(time.perf_counter() - t0)
        t_vec = min(vec_times)
        t0 = time.perf_counter()
        loop = simulate_loop(net, inp, runs_loop, 0)
        t_loop = (time.perf_counter() - t0) * (1000 / runs_loop)  # per 1,000 runs
        # the two implementations agree (same model)
        gap = abs(float(np.mean(vec.late_rate())) - float(np.mean(loop["late_rate"])))
        slider = []
        for rep in range(3):
            t0 = time.perf_counter()
            run_scenario(engine, inp.replace(fuel_pct=10 + rep), 1000, 0, with_tornado=False, with_mitigations=False)
            slider.append(time.perf_counter() - t0)
        t_slider = min(slider)
    return [
        {"benchmark": "scenario Monte Carlo, 1,000 runs", "subject": "NumPy over runs x lanes x weeks",
         "baseline": f"plain Python per-run loop ({runs_loop} runs, scaled to 1,000)", "subject_s": t_vec,
         "baseline_s": t_loop, "ratio": t_loop / t_vec, "goal": ">= 20x", "n": n_orders,
         "lanes": net.n_lanes, "late_rate_gap": gap},
        {"benchmark": "scenario slider change (baseline + scenario)", "subject": "run_scenario, 1,000 runs, 8 weeks",
         "baseline": "1 s budget", "subject_s": t_slider, "baseline_s": 1.0, "ratio": 1.0 / t_slider,
         "goal": "< 1 s (ratio > 1)", "n": n_orders},
    ]
