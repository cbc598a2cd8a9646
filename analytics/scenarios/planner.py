"""What the CLI, the callbacks and the benchmark call: calibrate (cached), simulate, summarise,
tornado, mitigations, backtest, saved scenarios and CSV export."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from analytics import geo
from analytics.datadir import CacheDir, DataDir
from analytics.scenarios.calibrate import Network, calibrate, data_end, data_fingerprint, observed_late_share
from analytics.scenarios.inputs import DEFAULT_RUNS, ScenarioError, ScenarioInputs, get_preset
from analytics.scenarios.outcome import (
    ZERO_BANDS,
    Bands,
    ComparedScenario,
    Delta,
    Insights,
    MitigationEffect,
    RegionSummary,
    RunMeta,
    ScenarioOutcome,
    Summary,
    TornadoBar,
)
from analytics.scenarios.simulate import COST_PARTS, Mitigation, SimResult, simulate

log = logging.getLogger(__name__)
QUANTILES = (10, 50, 90)
BACKTEST_REL_TOL = 0.25  # a backtest's P50 is "within 25%" of the observed rise ...
BACKTEST_ABS_TOL = 0.02  # ... or within 2 points of it (small rises)
MAX_COMPARE = 3
TORNADO_RUNS = 200
MITIGATION_RUNS = 300


def _cache(data_dir: Path, cache_dir: Path | None = None) -> Any:
    from analytics.shared_cache import open_cache

    cache = CacheDir(Path(cache_dir)) if cache_dir is not None else DataDir(Path(data_dir)).cache
    return open_cache(cache.scenarios, size_limit=256 * 2**20)


def network(engine: Any, as_of: date | None = None, use_model: bool = True, cache_dir: Path | None = None) -> Network:
    """The calibrated network as of a date (default: the day after the data ends), cached on disk
    by data fingerprint and date."""
    data_dir = Path(engine.data_dir)
    if as_of is None:
        as_of = data_end(engine) + timedelta(days=1)
    key = ("network", data_fingerprint(data_dir), as_of.isoformat(), engine.name, use_model,
           _model_fingerprint(data_dir) if use_model else "")
    try:
        with _cache(data_dir, cache_dir) as cache:
            hit = cache.get(key)
            if hit is not None:
                return hit
            net = calibrate(engine, as_of)
            if use_model:
                _apply_delay_model(net, engine, data_dir)
            cache.set(key, net, expire=7 * 86400)
            return net
    except OSError as exc:  # read-only data dir: compute without caching
        log.warning("scenario cache unavailable (%s); calibrating without it", exc)
        net = calibrate(engine, as_of)
        if use_model:
            _apply_delay_model(net, engine, data_dir)
        return net


def _model_fingerprint(data_dir: Path) -> str:
    card = DataDir(Path(data_dir)).model_card
    return str(card.stat().st_mtime_ns) if card.exists() else ""


def _model_trained_through(models: Any, data_dir: Path) -> date | None:
    """The last order date the delay model (or its calibration/evaluation) saw: the latest date in
    any training/validation/test period the logistics module records. None when unknown."""
    found: list[date] = []

    def walk(x: Any, key: str = "") -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{key}.{k}")
        elif isinstance(x, list | tuple):
            for v in x:
                walk(v, key)
        elif isinstance(x, str) and ("period" in key or key.rsplit(".", 1)[-1] in ("trained_through", "train_end",
                                                                                   "data_end")):
            try:
                found.append(date.fromisoformat(x[:10]))
            except ValueError:
                pass

    walk(getattr(models, "meta", None) or {})
    card = DataDir(Path(data_dir)).model_card
    if card.exists():
        try:
            walk(json.loads(card.read_text(encoding="utf-8")))
        except ValueError:
            pass
    return max(found) if found else None


def _apply_delay_model(net: Network, engine: Any, data_dir: Path) -> None:
    """Use the trained late-risk model for the lanes' baseline when it is allowed to: only if it
    was trained on data before the as-of date (a preset never sees a model that saw its episode)."""
    models_dir = DataDir(Path(data_dir)).models
    if not models_dir.exists():
        net.notes.append("no trained models: baseline from pre-episode data")
        return
    try:
        from analytics.logistics import load_models
        from analytics.logistics.features import build_features
    except ImportError:
        net.notes.append("logistics models module unavailable: baseline from pre-episode data")
        return
    try:
        models = load_models(models_dir)
    except Exception as exc:  # a missing/corrupt model must not break scenarios
        net.notes.append(f"delay model not loaded ({type(exc).__name__}): baseline from pre-episode data")
        return
    late_risk = getattr(models, "late_risk", None) if not isinstance(models, dict) else models.get("late_risk")
    if late_risk is None:
        net.notes.append("no late-risk model: baseline from pre-episode data")
        return
    through = _model_trained_through(models, data_dir)
    if through is None or through >= net.as_of:
        net.notes.append("delay model saw data on/after the as-of date: baseline from pre-episode data")
        return
    import polars as pl

    from analytics.scenarios.calibrate import _orders_before

    # score the reference window's orders as if they were placed in the weeks after the as-of date
    # (the model's calendar features then describe the horizon: month, retail peaks)
    frame = engine.collect(_orders_before(engine, net.ref_start, net.as_of))
    shift = timedelta(days=(net.as_of - net.ref_start).days)
    shifted = frame.with_columns(pl.col("order_date") + shift, pl.col("created_at") + shift)
    p = np.asarray(late_risk.predict_proba(build_features(shifted)), float)
    p = p[:, 1] if p.ndim == 2 else p
    lanes = frame.select("region", "origin_dc", "shipping_mode", "carrier").with_columns(pl.Series("p", p))
    agg = lanes.group_by("region", "origin_dc", "shipping_mode", "carrier").agg(pl.col("p").mean())
    lookup = {(r["region"], r["origin_dc"], r["shipping_mode"], r["carrier"]): r["p"] for r in agg.iter_rows(named=True)}
    codes = geo.REGION_CODES
    hit = 0
    for i in range(net.n_lanes):
        k = (codes[net.lane_region[i]], net.lane_dc[i], net.lane_mode[i], net.carriers[net.lane_carrier[i]])
        if k in lookup:
            net.p_late[i] = float(np.clip(lookup[k], 1e-3, 1 - 1e-3))
            hit += 1
    # the model's calendar features already carry the season and the retail peaks
    net.season_logit[:] = 0.0
    net.peak_logit[:] = 0.0
    net.baseline_source = "model"
    net.notes.append(f"baseline late risk from the trained delay model (trained through {through}, {hit} lanes)")


# --- summaries ------------------------------------------------------------------------------------

def bands(x: np.ndarray) -> Bands:
    q = np.percentile(np.asarray(x, float), QUANTILES)
    return Bands(float(q[0]), float(q[1]), float(q[2]))


def summarize(res: SimResult) -> Summary:
    by_region = {}
    for i, code in enumerate(geo.REGION_CODES):
        n = res.orders[:, i]
        if np.median(n) <= 0:
            continue
        by_region[code] = RegionSummary(late_rate=bands(res.late[:, i] / np.maximum(n, 1)),
                                        avg_days=bands(res.days_sum[:, i] / np.maximum(n, 1)), orders=bands(n))
    return Summary(
        late_rate=bands(res.late_rate()), avg_days=bands(res.avg_days()),
        cost_pen=bands(res.total_cost), cost_parts={p: bands(res.cost[p]) for p in COST_PARTS},
        revenue_at_risk_pen=bands(res.revenue_at_risk), orders_affected=bands(res.affected),
        orders=bands(res.orders.sum(1)), by_region=by_region,
    )


def _delta(base: SimResult, scen: SimResult) -> Delta:
    # common random numbers: paired per-run differences
    return Delta(
        late_rate=bands(scen.late_rate() - base.late_rate()),
        avg_days=bands(scen.avg_days() - base.avg_days()),
        cost_pen=bands(scen.total_cost - base.total_cost),
        revenue_at_risk_pen=bands(scen.revenue_at_risk - base.revenue_at_risk),
        orders_affected=bands(scen.affected - base.affected),
    )


DRIVERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("blockade", ("blockade_regions", "blockade_days", "blockade_cut_share")),
    ("pan_norte", ("pan_norte_days",)),
    ("nino", ("nino_intensity",)),
    ("central", ("central_days",)),
    ("callao", ("callao_days",)),
    ("fuel", ("fuel_pct",)),
    ("demand", ("demand_pct",)),
    ("capacity", ("capacity_pct",)),
)


def tornado(net: Network, inp: ScenarioInputs, runs: int = TORNADO_RUNS, seed: int = 0) -> list[TornadoBar]:
    """Each input alone (others at business as usual): its effect on late rate and cost (P50 of the
    paired difference), sorted by the size of the late-rate effect."""
    zero = inp.without_changes()
    base = simulate(net, zero, runs, seed)
    out: list[TornadoBar] = []
    for name, fields in DRIVERS:
        only = zero.replace(**{f: getattr(inp, f) for f in fields})
        if only == zero:
            continue
        r = simulate(net, only, runs, seed)
        out.append(TornadoBar(driver=name, late_rate_pp=float(np.median(r.late_rate() - base.late_rate()) * 100),
                              cost_pen=float(np.median(r.total_cost - base.total_cost)),
                              avg_days=float(np.median(r.avg_days() - base.avg_days()))))
    out.sort(key=lambda d: (abs(d.late_rate_pp), abs(d.cost_pen)), reverse=True)
    return out


def mitigations(net: Network, inp: ScenarioInputs, scen_summary: Summary, base_summary: Summary,
                runs: int = MITIGATION_RUNS, seed: int = 0) -> list[MitigationEffect]:
    """Pre-position stock, switch modes, book other carriers for the three worst regions."""
    up = {}
    for code, v in scen_summary.by_region.items():
        b = base_summary.by_region.get(code)
        if b:
            up[code] = v.late_rate.p50 - b.late_rate.p50
    worst = tuple(sorted(c for c, _ in sorted(up.items(), key=lambda kv: -kv[1])[:3] if up[c] > 0.005))
    if not worst:
        return []
    scen = simulate(net, inp, runs, seed)
    out = []
    for kind in ("preposition", "air", "carrier"):
        r = simulate(net, inp, runs, seed, Mitigation(kind, worst))
        out.append(MitigationEffect(
            kind=kind, regions=list(worst),
            late_rate_pp=bands((r.late_rate(worst) - scen.late_rate(worst)) * 100),
            cost_pen=bands(r.total_cost - scen.total_cost),
            revenue_at_risk_pen=bands(r.revenue_at_risk - scen.revenue_at_risk),
        ))
    return out


def run_scenario(engine: Any, inp: ScenarioInputs, runs: int = DEFAULT_RUNS, seed: int = 0,
                 as_of: date | None = None, with_tornado: bool = True, with_mitigations: bool = True,
                 cache_dir: Path | None = None) -> ScenarioOutcome:
    """Baseline and scenario side by side over the same window, with common random numbers."""
    t0 = time.perf_counter()
    net = network(engine, as_of or inp.start, cache_dir=cache_dir)
    base = simulate(net, inp.without_changes(), runs, seed)
    scen = simulate(net, inp, runs, seed)
    bs, ss = summarize(base), summarize(scen)
    torn = tornado(net, inp, min(runs, TORNADO_RUNS), seed) if with_tornado else []
    mits = mitigations(net, inp, ss, bs, min(runs, MITIGATION_RUNS), seed) if with_mitigations else []
    meta = RunMeta(as_of=net.as_of, start=inp.start or net.as_of, days=inp.days, runs=runs, seed=seed,
                   lanes=net.n_lanes, baseline_source=net.baseline_source, port_calibration=net.port_source,
                   notes=list(net.notes), reference_window=(net.ref_start, net.as_of - timedelta(days=1)),
                   elapsed_s=round(time.perf_counter() - t0, 3))
    return ScenarioOutcome(inp, bs, ss, _delta(base, scen), torn, mits, meta)


# --- backtest / CLI -----------------------------------------------------------------------------

def within_tolerance(predicted: float, observed: float) -> bool:
    """The backtest criterion: within 25% of the observed rise, or within 2 points of it."""
    return bool(abs(predicted - observed) <= max(BACKTEST_REL_TOL * abs(observed), BACKTEST_ABS_TOL))


def backtest(engine: Any, preset_name: str, runs: int = DEFAULT_RUNS, seed: int = 0,
             cache_dir: Path | None = None) -> dict[str, Any]:
    """Replay a preset as of the day before its episode and compare with what the data shows.

    The simulator sees orders dated before the episode only; ``parameters`` says where each mechanism
    parameter came from (an earlier episode of the same kind, the orders before the as-of date, or a prior)."""
    preset = get_preset(preset_name)
    if preset.as_of is None:
        raise ScenarioError(f"preset {preset_name!r} is hypothetical: there is no episode to backtest")
    inp = preset.inputs
    start = preset.as_of
    end = start + timedelta(days=inp.days - 1)
    regions = preset.regions
    net = network(engine, start, cache_dir=cache_dir)
    pre_start = _months_before(start, 3)
    pre_rate, pre_n = observed_late_share(engine, regions, pre_start, start - timedelta(days=1))
    if pre_n == 0:
        raise ScenarioError(f"no orders in {regions} in the three months before {start}")
    res = simulate(net, inp, runs, seed)
    base = simulate(net, inp.without_changes(), runs, seed)
    uplift = res.late_rate(regions) - pre_rate
    q = bands(uplift)
    out: dict[str, Any] = {
        "preset": preset_name, "regions": list(regions), "episode": [start.isoformat(), end.isoformat()],
        "as_of": (start - timedelta(days=1)).isoformat(),
        "late_rate_uplift_p10": q.p10, "late_rate_uplift_p50": q.p50, "late_rate_uplift_p90": q.p90,
        "pre_late_share": pre_rate, "pre_orders": pre_n,
        "predicted_late_share_p50": float(np.median(res.late_rate(regions))),
        "seasonal_uplift_p50": float(np.median(base.late_rate(regions) - pre_rate)),
        "runs": runs, "seed": seed, "baseline_source": net.baseline_source,
        "parameters": net.parameters(),
    }
    ep_rate, ep_n = observed_late_share(engine, regions, start, end)
    if ep_n:
        observed = ep_rate - pre_rate
        out.update({"observed_uplift": observed, "observed_orders": ep_n,
                    "within_25pct": within_tolerance(q.p50, observed),
                    "band_contains": bool(q.p10 <= observed <= q.p90)})
    return out


def _months_before(d: date, months: int) -> date:
    from analytics.scenarios.calibrate import months_before

    return months_before(d, months)


def cli(args: Any) -> int:
    """``python app.py scenario --data-dir DIR --preset NAME [--json] [--runs N] [--seed S]``."""
    from analytics.engine import EngineConfig, make_engine

    runs = int(getattr(args, "runs", DEFAULT_RUNS) or DEFAULT_RUNS)
    seed = int(getattr(args, "seed", 0) or 0)
    if runs < 1:
        raise ScenarioError("--runs must be at least 1")
    data_dir = Path(args.data_dir)
    if not (data_dir / "orders.parquet").exists():
        raise FileNotFoundError(f"no orders table in {data_dir} (run `python app.py generate` first)")
    engine = make_engine(EngineConfig(data_dir))
    preset = get_preset(args.preset)
    if preset.as_of is not None:
        payload = backtest(engine, args.preset, runs, seed)
    else:
        outcome = run_scenario(engine, preset.inputs, runs, seed, with_tornado=False, with_mitigations=False)
        lr = outcome.delta.late_rate
        payload = {"preset": args.preset, "regions": list(preset.regions),
                   "late_rate_uplift_p10": lr.p10, "late_rate_uplift_p50": lr.p50,
                   "late_rate_uplift_p90": lr.p90, "runs": runs, "seed": seed,
                   "cost_pen": outcome.delta.cost_pen.p50, "revenue_at_risk_pen": outcome.delta.revenue_at_risk_pen.p50,
                   "orders_affected": outcome.delta.orders_affected.p50}
    if getattr(args, "json", False):
        print(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        for k, v in payload.items():
            print(f"{k}: {v}")
    return 0


# --- saved scenarios, comparison, CSV --------------------------------------------------------------

def saved_path(data_dir: Path) -> Path:
    return DataDir(Path(data_dir)).saved_scenarios


MAX_SAVED_PER_OWNER = 20  # saved scenarios one user (or client address) may keep
MAX_SAVED_TOTAL = 500  # saved scenarios in one data folder, all owners together


def _read_saved(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The file as stored: name → ``{"owner": ..., "inputs": {...}}`` (a bare inputs dict: saved before scenarios
    had owners; it belongs to nobody)."""
    p = saved_path(data_dir)
    if not p.exists():
        return {}
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ScenarioError(f"saved scenarios file is corrupt: {p}: {exc}") from exc
    if not isinstance(d, dict):
        return {}
    return {str(k): (v if set(v) == {"owner", "inputs"} else {"owner": None, "inputs": v})
            for k, v in d.items() if isinstance(v, dict)}


def load_saved(data_dir: Path, owner: str | None = None) -> dict[str, dict[str, Any]]:
    """Saved scenarios ``owner`` may see (theirs and those saved before scenarios had owners): name → inputs."""
    return {k: v["inputs"] for k, v in _read_saved(data_dir).items() if v["owner"] in (None, owner)}


def save_scenario(data_dir: Path, name: str, inp: ScenarioInputs, owner: str | None = None) -> dict[str, dict[str, Any]]:
    """Save ``inp`` under ``name`` for ``owner``; returns what ``owner`` may see. Refused (ScenarioError): a name
    another owner saved, more than MAX_SAVED_PER_OWNER for one owner or MAX_SAVED_TOTAL in all."""
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise ScenarioError("a scenario name must have 1 to 60 characters")
    saved = _read_saved(data_dir)
    known = saved.get(name)
    if known is not None and known["owner"] not in (None, owner):
        raise ScenarioError(f"a scenario named {name!r} belongs to another user; choose another name")
    if known is None:
        if sum(1 for v in saved.values() if v["owner"] == owner) >= MAX_SAVED_PER_OWNER:
            raise ScenarioError(f"you may keep at most {MAX_SAVED_PER_OWNER} saved scenarios; overwrite one instead")
        if len(saved) >= MAX_SAVED_TOTAL:
            raise ScenarioError(f"this data folder keeps at most {MAX_SAVED_TOTAL} saved scenarios")
    saved[name] = {"owner": owner, "inputs": inp.to_dict()}
    p = saved_path(data_dir)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(saved, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    os.replace(tmp, p)
    return load_saved(data_dir, owner)


def compare(engine: Any, named: dict[str, ScenarioInputs], runs: int = DEFAULT_RUNS, seed: int = 0,
            cache_dir: Path | None = None) -> list[ComparedScenario]:
    """Each named scenario's network bands (up to MAX_COMPARE), for the comparison chart."""
    if not named:
        return []
    if len(named) > MAX_COMPARE:
        raise ScenarioError(f"compare at most {MAX_COMPARE} scenarios")
    rows = []
    for name, inp in named.items():
        o = run_scenario(engine, inp, runs, seed, with_tornado=False, with_mitigations=False, cache_dir=cache_dir)
        s = o.scenario
        rows.append(ComparedScenario(name=name, late_rate=s.late_rate, avg_days=s.avg_days, cost_pen=s.cost_pen,
                                     revenue_at_risk_pen=s.revenue_at_risk_pen, orders_affected=s.orders_affected,
                                     delta_late_rate=o.delta.late_rate))
    return rows


def to_csv(outcome: ScenarioOutcome) -> str:
    """Results as CSV: one row per metric (network and by region), baseline and scenario bands (written through
    ``analytics.csv_export``: region keys of imported data are free text)."""
    from analytics.csv_export import rows_csv

    rows: list[list[str]] = []

    def row(scope: str, metric: str, b: Bands, s: Bands) -> None:
        vals = (b.p10, b.p50, b.p90, s.p10, s.p50, s.p90)
        rows.append([scope, metric, *(f"{v:.6g}" for v in vals)])

    b, s = outcome.baseline, outcome.scenario
    for m in ("late_rate", "avg_days", "cost_pen", "revenue_at_risk_pen", "orders_affected", "orders"):
        row("network", m, b.metric(m), s.metric(m))
    for part in COST_PARTS:
        row("network", f"cost_{part}_pen", b.cost_parts[part], s.cost_parts[part])
    for code in sorted(set(b.by_region) | set(s.by_region)):
        bb, ss = b.by_region.get(code), s.by_region.get(code)
        for m in ("late_rate", "avg_days", "orders"):
            row(code, m, getattr(bb, m) if bb else ZERO_BANDS, getattr(ss, m) if ss else ZERO_BANDS)
    return rows_csv(("scope", "metric", "baseline_p10", "baseline_p50", "baseline_p90", "scenario_p10", "scenario_p50",
                     "scenario_p90"), rows)


def insights(engine: Any, inp: ScenarioInputs, seed: int = 0, cache_dir: Path | None = None,
             progress: Any = None, as_of: date | None = None) -> Insights:
    """Tornado and mitigations for a scenario (the slower part, computed after the main result).

    ``progress(label, fraction)`` is called as the work advances. Pass the ``as_of`` of the main
    result so that the calibrated network comes straight from the cache (no query needed)."""
    report = progress or (lambda label, frac: None)
    net = network(engine, as_of or inp.start, cache_dir=cache_dir)
    report("tornado", 0.05)
    torn = tornado(net, inp, TORNADO_RUNS, seed)
    report("mitigations", 0.5)
    base = summarize(simulate(net, inp.without_changes(), MITIGATION_RUNS, seed))
    scen = summarize(simulate(net, inp, MITIGATION_RUNS, seed))
    report("mitigations", 0.65)
    mits = mitigations(net, inp, scen, base)
    report("done", 1.0)
    return Insights(tornado=torn, mitigations=mits)
