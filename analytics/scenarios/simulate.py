"""The Monte Carlo engine: every run at once, as NumPy arrays over (runs x lanes x weeks).

Mechanics (also in the page's help text):

- Baseline: each lane's late probability from the reference window, moved by the seasonal offset
  of the calendar month (learned from the year before), with per-run noise on that offset.
- Road cuts (blockades, Panamericana Norte, Carretera Central): during the cut window a road
  shipment meets a cut with probability c (share of days cut; urban deliveries keep only part of
  the exposure). It waits for the road to reopen (mean wait = mean cut spell = c/(1-c) x open
  spell) or takes a detour when one exists and is faster (extra km / road speed). A wait of D
  days makes the order late when D exceeds its slack (promised - actual days, learned per lane).
  Operations re-book a share of long-haul road shipments on air while roads are cut.
- Rain (El Niño intensity): a chance per road shipment on the north coast of meeting local floods.
- Callao: a share of the imported goods from Lima is held at the port and waits.
- Every mechanism's parameters (share of days cut, open spells, air re-booking, flood hits and waits,
  port holds) come from earlier episodes of the same kind or from documented priors
  (:mod:`analytics.scenarios.mechanisms`) and are drawn run by run.
- Capacity: demand above a carrier's capacity builds a FIFO backlog; the mean wait over the horizon
  is (load/capacity - 1) x horizon / 2.
- Costs: base cost per lane, + mode shift (air instead of road), + detours (extra km), +
  mitigation costs, + fuel (fuel share of cost x fuel change). They add up to the total.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from analytics import geo
from analytics.scenarios import inputs
from analytics.scenarios.calibrate import REGION_NAT, SLACK_VALUES, Network

N_REGIONS = len(geo.REGIONS)
COST_PARTS = ("base", "mode_shift", "detour", "mitigation", "fuel")


@dataclass(frozen=True)
class Mitigation:
    """A response simulated on top of a scenario."""

    kind: str  # preposition | air | carrier
    regions: tuple[str, ...]


@dataclass
class SimResult:
    runs: int
    orders: np.ndarray  # [R, 25]
    late: np.ndarray  # [R, 25]
    days_sum: np.ndarray  # [R, 25] total delivery days
    cost: dict[str, np.ndarray]  # part -> [R]
    revenue_at_risk: np.ndarray  # [R]
    affected: np.ndarray  # [R]
    meta: dict = field(default_factory=dict)

    @property
    def total_cost(self) -> np.ndarray:
        return np.sum([self.cost[p] for p in COST_PARTS], axis=0)

    def late_rate(self, regions: tuple[str, ...] | None = None) -> np.ndarray:
        idx = _region_idx(regions)
        return self.late[:, idx].sum(1) / np.maximum(self.orders[:, idx].sum(1), 1)

    def avg_days(self, regions: tuple[str, ...] | None = None) -> np.ndarray:
        idx = _region_idx(regions)
        return self.days_sum[:, idx].sum(1) / np.maximum(self.orders[:, idx].sum(1), 1)


def _region_idx(regions: tuple[str, ...] | None) -> np.ndarray:
    if not regions:
        return np.arange(N_REGIONS)
    return np.array([geo.REGION_CODES.index(r) for r in regions])


def _windows(inp: inputs.ScenarioInputs, start: date) -> dict[str, np.ndarray]:
    """Per-week share of days inside each disruption window, and per-week season month weights."""
    h = inp.days
    day = np.arange(h)
    weeks = (h + 6) // 7
    wk = day // 7
    wdays = np.bincount(wk, minlength=weeks).astype(float)

    def frac(mask: np.ndarray) -> np.ndarray:
        return np.bincount(wk, mask.astype(float), minlength=weeks) / wdays

    months = np.array([(start + timedelta(days=int(d))).month for d in day])
    month_w = np.zeros((weeks, 13))
    np.add.at(month_w, (wk, months), 1.0)
    month_w /= wdays[:, None]
    pset = set(inputs.peak_days(start, start + timedelta(days=h)))
    peak = np.array([(start + timedelta(days=int(d))) in pset for d in day])
    return {
        "wdays": wdays, "month_w": month_w, "peak": frac(peak),
        "blockade": frac(day < inp.blockade_days),
        "central": frac(day < inp.central_days),
        "port": frac(day < inp.callao_days),
        # the Panamericana Norte is cut intermittently over the horizon (rain episodes)
        "norte": np.full(weeks, 1.0 if inp.pan_norte_days else 0.0),
        "rain": np.full(weeks, 1.0 if inp.nino_intensity else 0.0),
    }


def _q_exp(pmf: np.ndarray, mean_wait: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """P(an exponential wait with this mean makes an otherwise on-time order late).

    pmf: [l, K] slack distribution of the lanes. mean_wait: [R, G] per run and group (region) with
    ``group`` [l] mapping lanes to columns, or [R, l] per lane when ``group`` is None. Returns [R, l].
    The wait depends on the run and the region only, so exp(-k/m) is built on [R, G, K] and
    combined with each lane's slack distribution by a matrix product per group."""
    ok = SLACK_VALUES >= 0
    p_ok = pmf[:, ok]
    p_ok = p_ok / np.maximum(p_ok.sum(1, keepdims=True), 1e-12)
    k = SLACK_VALUES[ok] + 0.5
    m = np.maximum(mean_wait, 1e-6)
    if group is None:
        return np.einsum("rlk,lk->rl", np.exp(-k / m[..., None]), p_ok)
    kern = np.exp(-k[None, None, :] / m[:, :, None])  # [R, G, K]
    out = np.empty((m.shape[0], pmf.shape[0]))
    for g in np.unique(group):
        cols = np.flatnonzero(group == g)
        out[:, cols] = kern[:, g, :] @ p_ok[cols].T
    return out


def _q_fixed(pmf: np.ndarray, wait: np.ndarray) -> np.ndarray:
    """Same for a fixed wait (slack + U(0,1) < wait). wait: [R, L] -> [R, L]."""
    ok = SLACK_VALUES >= 0
    p_ok = pmf[:, ok]
    p_ok = p_ok / np.maximum(p_ok.sum(1, keepdims=True), 1e-12)
    k = SLACK_VALUES[ok]
    return np.einsum("rlk,lk->rl", np.clip(wait[..., None] - k, 0.0, 1.0), p_ok)


def wmean_of(win: dict[str, np.ndarray]) -> np.ndarray:
    return win["wdays"] / win["wdays"].sum()


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class _Draws:
    """The draws every scenario makes, first, so that two scenarios with the same seed share them
    (common random numbers: baseline-vs-scenario differences are not blurred by count noise)."""

    z: np.ndarray  # [2, R, L] normal scores for the order and late counts
    eps_std: np.ndarray  # [R, 3] seasonal-offset noise by natural region
    open_spell: np.ndarray  # [R] days a blockaded road stays open between cuts
    corridor_spell: np.ndarray  # [R] the same for highways cut by floods or closures
    air_share: np.ndarray  # [R] share of long-haul road shipments operations re-book on air

    @classmethod
    def make(cls, rng: np.random.Generator, runs: int, net: Network) -> _Draws:
        z = rng.standard_normal((2, runs, net.n_lanes), dtype=np.float32)
        eps_std = rng.standard_normal((runs, 3))
        open_spell = net.params["open_spell_days"].draw(rng, runs)
        air_share = np.clip(net.params["air_shift_share"].draw(rng, runs), 0.0, 1.0)
        corridor_spell = net.params["corridor_open_spell_days"].draw(rng, runs)
        return cls(z, eps_std, open_spell, corridor_spell, air_share)


@dataclass(frozen=True)
class _LaneTerms:
    """Per-lane late probability, slack distribution and costs, after a mitigation (if any)."""

    p_late: np.ndarray  # [L]
    pmf: np.ndarray  # [L, K] slack distribution
    cost: np.ndarray  # [L] base cost per order
    extra_cost_order: np.ndarray  # [L] mitigation cost per order
    forced_air: np.ndarray  # [L] share moved to air by the mitigation

    @classmethod
    def of(cls, net: Network, mitigation: Mitigation | None, lane_code: np.ndarray, road: np.ndarray) -> _LaneTerms:
        L = net.n_lanes
        extra_cost_order = np.zeros(L)
        forced_air = np.zeros(L)
        p_lane, pmf, cost_lane = net.p_late.copy(), net.slack_pmf, net.cost_mean.copy()
        if mitigation is not None:
            mreg = np.isin(lane_code, mitigation.regions)
            if mitigation.kind == "preposition":
                extra_cost_order = np.where(mreg, inputs.PREPOSITION_COST_PEN, 0.0)
            elif mitigation.kind == "air":
                forced_air = np.where(mreg & road & (net.dist_mean >= inputs.LOCAL_KM), inputs.MITIGATION_AIR_SHARE,
                                      0.0)
            elif mitigation.kind == "carrier":
                p_lane, pmf, cost_lane = _best_carriers(net, mreg & road)
            else:
                raise inputs.ScenarioError(f"unknown mitigation {mitigation.kind!r}")
        return cls(p_lane, pmf, cost_lane, extra_cost_order, forced_air)


@dataclass
class _Effects:
    """What the disruptions do to each run and lane, accumulated mechanism by mechanism."""

    s_glob: np.ndarray  # [R, L] survival factor (P(not made late)) that does not depend on the week
    extra_days: np.ndarray  # [R, L] expected extra days per order, averaged over the horizon
    affected_p: np.ndarray  # [R, L] share of the lane's orders touched by a disruption
    shift_air: np.ndarray  # [R, L] share of the lane's orders re-booked on air
    detour_km: np.ndarray  # [R, L] extra km per order
    any_cut_frac: np.ndarray  # [L, W] share of each week some road of the lane is cut
    windowed: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (lanes, [R, l, W] survival)

    @classmethod
    def none(cls, R: int, L: int, W: int) -> _Effects:
        return cls(np.ones((R, L)), np.zeros((R, L)), np.zeros((R, L)), np.zeros((R, L)), np.zeros((R, L)),
                   np.zeros((L, W)))


def blockade_share(net: Network, inp: inputs.ScenarioInputs) -> tuple[float, float]:
    """Share of the blockade's days cut and its Beta concentration: the user's number (default spread) or the
    network's (learned from earlier blockades, else the prior)."""
    if inp.blockade_cut_share is not None:
        return float(inp.blockade_cut_share), inputs.CUT_SHARE_CONCENTRATION
    p = net.params["blockade_cut_share"]
    return float(p.value), float(p.spread)


def _road_cuts_of(net: Network, inp: inputs.ScenarioInputs) -> list[tuple[str, tuple[str, ...], float, float, float]]:
    """The highway cuts of a scenario: (window name, regions, share of days cut, Beta concentration, detour km)."""
    cuts: list[tuple[str, tuple[str, ...], float, float, float]] = []
    if inp.blockade_days and inp.blockade_regions:
        share, k = blockade_share(net, inp)
        cuts.append(("blockade", inp.blockade_regions, share, k, 0.0))
    if inp.pan_norte_days:
        cuts.append(("norte", geo.CORRIDORS["panamericana_norte"], min(inp.pan_norte_days / inp.days, 1.0),
                     inputs.CUT_SHARE_CONCENTRATION, 0.0))
    if inp.central_days:
        cuts.append(("central", geo.CORRIDORS["carretera_central"], 1.0, inputs.CUT_SHARE_CONCENTRATION,
                     inputs.DETOUR_EXTRA_KM["carretera_central"]))
    return cuts


def _road_cuts(rng: np.random.Generator, net: Network, inp: inputs.ScenarioInputs, win: dict[str, np.ndarray],
               draws: _Draws, terms: _LaneTerms, mitigation: Mitigation | None, fx: _Effects) -> None:
    """Road cuts (blockades, Panamericana Norte, Carretera Central): a road shipment meets a cut and waits
    for the road to reopen, or takes a detour when one exists and is faster; operations re-book a share of
    long-haul road shipments on air while roads are cut."""
    R, H = draws.open_spell.shape[0], inp.days
    reg, road = net.lane_region, net.road_mask()
    lane_code = np.array(geo.REGION_CODES)[reg]
    pmf, wmean = terms.pmf, wmean_of(win)
    urban = float(net.params["urban_exposure"].value)
    expo = np.where(road, (1 - net.local_share) + net.local_share * urban, 0.0)
    # highway days of a long-haul (non-urban) shipment
    far_km = np.maximum(net.dist_mean - net.local_share * inputs.LOCAL_KM / 2, 0) / np.maximum(
        1 - net.local_share, 1e-3)
    transit = np.where(road, far_km / net.speed_km_day[reg], 0.0)
    for name, regions, share, k, detour in _road_cuts_of(net, inp):
        spell = draws.open_spell if name == "blockade" else draws.corridor_spell
        sel = np.isin(lane_code, regions) & road & (expo > 0)
        if not sel.any():
            continue
        idx = np.flatnonzero(sel)
        win_w = win[name]  # [W]
        fx.any_cut_frac[idx] = np.maximum(fx.any_cut_frac[idx], win_w[None, :])
        uniq = np.array(sorted(set(reg[idx])))
        if share >= 1.0:
            c = np.ones((R, uniq.size))
            closure_days = (inp.central_days if name == "central" else H)
            wait = np.broadcast_to(0.5 * min(closure_days, H) * np.exp(0.2 * rng.standard_normal((R, 1))),
                                   (R, uniq.size))
        else:
            c = rng.beta(max(k * share, 1e-3), max(k * (1 - share), 1e-3), (R, uniq.size))
            wait = np.clip(c / np.maximum(1 - c, 1e-3) * spell[:, None], 0.25, H)
        col = np.searchsorted(uniq, reg[idx])
        c_l, wait_l = c[:, col], wait[:, col]  # [R, l]
        if detour > 0:
            det_days = detour / net.speed_km_day[reg[idx]]
            use_det = det_days[None, :] < wait_l
            q = np.where(use_det, _q_fixed(pmf[idx], np.broadcast_to(det_days, wait_l.shape)),
                         _q_exp(pmf[idx], wait, col))
            mean_extra = np.where(use_det, det_days[None, :], wait_l)
            fx.detour_km[:, idx] += np.where(use_det, c_l * expo[idx] * (win_w @ wmean) * detour, 0.0)
        else:
            q = _q_exp(pmf[idx], wait, col)
            mean_extra = wait_l
        a = draws.air_share[:, None] * net.long_share[idx][None, :] if name != "central" else 0.0 * c_l
        a = np.maximum(a, fx.shift_air[:, idx])
        fx.shift_air[:, idx] = a
        # a long-haul trip of T days on an intermittently cut road meets a cut unless the road is
        # open when it sets off and stays open for the whole trip: 1 - (1 - c) exp(-T / open spell)
        ls = net.local_share[idx]
        meet = 1 - (1 - c_l) * np.exp(-transit[idx][None, :] / spell[:, None])
        hit = ((1 - ls) * meet + ls * urban * c_l) * (1 - a)  # [R, l]
        if mitigation is not None and mitigation.kind == "preposition":
            hit = hit * np.where(np.isin(lane_code[idx], mitigation.regions), inputs.PREPOSITION_EXPOSURE, 1.0)
        fx.windowed.append((idx, 1 - hit[:, :, None] * q[:, :, None] * win_w[None, None, :]))
        fx.extra_days[:, idx] += hit * mean_extra * (win_w @ wmean)
        fx.affected_p[:, idx] = 1 - (1 - fx.affected_p[:, idx]) * (1 - (hit + a) * (win_w @ wmean))


def _north_coast_rain(rng: np.random.Generator, net: Network, inp: inputs.ScenarioInputs,
                      win: dict[str, np.ndarray], pmf: np.ndarray, fx: _Effects) -> None:
    """Rain (El Niño intensity): a chance per road shipment on the north coast of meeting local floods."""
    if not inp.nino_intensity:
        return
    R = fx.s_glob.shape[0]
    lane_code = np.array(geo.REGION_CODES)[net.lane_region]
    idx = np.flatnonzero(np.isin(lane_code, inputs.NORTH_COAST) & net.road_mask())
    if not idx.size:
        return
    level = inp.nino_intensity
    hitp = np.clip(net.params["flood_hit_per_level"].draw(rng, (R, 1)) * level, 0, 1)
    wait = np.maximum(net.params["flood_wait_days"].draw(rng, (R, 1)) * inputs.flood_wait_scale(level), 1e-3)
    q = _q_exp(pmf[idx], wait, np.zeros(idx.size, int))
    mwait = np.broadcast_to(wait, (R, idx.size))
    hit = hitp * (1 - fx.shift_air[:, idx])
    fx.s_glob[:, idx] *= 1 - hit * q * (win["rain"] @ wmean_of(win))
    fx.extra_days[:, idx] += hit * mwait
    fx.affected_p[:, idx] = 1 - (1 - fx.affected_p[:, idx]) * (1 - hit)


def _callao_port(rng: np.random.Generator, net: Network, inp: inputs.ScenarioInputs, win: dict[str, np.ndarray],
                 pmf: np.ndarray, fx: _Effects) -> None:
    """Callao: a share of the imported goods from Lima is held at the port and waits (both learned from earlier
    port episodes in the data, else priors)."""
    if not inp.callao_days:
        return
    R, wmean = fx.s_glob.shape[0], wmean_of(win)
    lim = np.isin(net.lane_dc, [d.dc_id for d in geo.DCS if d.region in ("PE-CAL", "PE-LIM")])
    imp = net.cat_share[:, [inputs.CATEGORIES.index(c) for c in inputs.IMPORTED_CATEGORIES]].sum(1)
    idx = np.flatnonzero(lim & (imp > 0))
    if not idx.size:
        return
    share = np.clip(net.params["port_hold_share"].draw(rng, (R, 1)), 0.0, 1.0)
    m = np.maximum(net.params["port_hold_days"].draw(rng, (R, 1)), 1e-3)
    q = _q_exp(pmf[idx], m, np.zeros(idx.size, int))
    m = np.broadcast_to(m, (R, idx.size))
    hit = share * imp[idx][None, :]
    fx.windowed.append((idx, 1 - (hit * q)[:, :, None] * win["port"][None, None, :]))
    fx.extra_days[:, idx] += hit * m * (win["port"] @ wmean)
    fx.affected_p[:, idx] = 1 - (1 - fx.affected_p[:, idx]) * (1 - hit * (win["port"] @ wmean))


def _carrier_backlog(rng: np.random.Generator, net: Network, inp: inputs.ScenarioInputs, vm: np.ndarray,
                     pmf: np.ndarray, fx: _Effects) -> None:
    """Capacity: demand above a carrier's capacity builds a FIFO backlog; the mean wait over the horizon
    is (load/capacity - 1) x horizon / 2."""
    R, C, H = fx.s_glob.shape[0], len(net.carriers), inp.days
    load = np.bincount(net.lane_carrier, net.per_day * vm, minlength=C)
    base_load = np.bincount(net.lane_carrier, net.per_day, minlength=C)
    load = load * np.where(base_load > 0, net.mean_per_day_carrier / np.maximum(base_load, 1e-9), 1.0)
    if not (inp.capacity_pct or inp.demand_pct):
        return
    cap = net.cap_per_day[None, :] * (1 + inp.capacity_pct / 100.0) * np.exp(
        inputs.CAPACITY_SIGMA * rng.standard_normal((R, C)))
    backlog_wait = np.clip(load[None, :] / np.maximum(cap, 1e-9) - 1.0, 0.0, None) * H / 2.0  # [R, C]
    wl = backlog_wait[:, net.lane_carrier]
    cols = np.flatnonzero((wl > 0).any(0))
    if cols.size:
        q = _q_fixed(pmf[cols], wl[:, cols])
        fx.s_glob[:, cols] *= 1 - q
        fx.extra_days += wl
        fx.affected_p = 1 - (1 - fx.affected_p) * (1 - (wl > 0))


def _road_late_probability(net: Network, win: dict[str, np.ndarray], p_lane: np.ndarray, eps_std: np.ndarray,
                           fx: _Effects) -> np.ndarray:
    """Baseline: each lane's late probability from the reference window, moved by the seasonal offset of the
    calendar month, with per-run noise on that offset; then the disruptions' survival factors, week by week
    where they have a window. Returns [R, L]."""
    nat, wmean = REGION_NAT[net.lane_region], wmean_of(win)
    s_det = net.season_logit @ win["month_w"].T + net.peak_logit[:, None] * win["peak"][None, :]  # [3, W]
    s_se = np.sqrt((net.season_se ** 2) @ win["month_w"].T) @ wmean  # [3]
    eps = eps_std * s_se[None, :]  # [R, 3]
    base_lw = _expit(np.log(p_lane / (1 - p_lane))[:, None] + s_det[nat])  # [L, W]
    slope_lw = base_lw * (1 - base_lw)
    p0_mean = (base_lw @ wmean)[None, :] + (slope_lw @ wmean)[None, :] * eps[:, nat]  # [R, L]
    p_road = 1 - fx.s_glob * (1 - p0_mean)
    if fx.windowed:
        R, W = eps.shape[0], wmean.shape[0]
        U = np.unique(np.concatenate([ix for ix, _ in fx.windowed]))
        surv_u = np.ones((R, U.size, W))
        for ix, fac in fx.windowed:
            surv_u[:, np.searchsorted(U, ix), :] *= fac
        p0_u = base_lw[U][None] + slope_lw[U][None] * eps[:, nat[U]][:, :, None]  # [R, U, W]
        p_road[:, U] = 1 - fx.s_glob[:, U] * (((1 - p0_u) * surv_u) @ wmean)
    return p_road


def _costs(net: Network, inp: inputs.ScenarioInputs, nf: np.ndarray, shifted: np.ndarray, detour_km: np.ndarray,
           terms: _LaneTerms) -> dict[str, np.ndarray]:
    """Costs in soles over the horizon, per run: base cost per lane, + mode shift (air instead of road), +
    detours (extra km), + mitigation costs, + fuel (fuel share of cost x fuel change)."""
    reg, road, cost_lane = net.lane_region, net.road_mask(), terms.cost
    air_km = net.dist_mean / np.array([geo.ROAD_CIRCUITY[geo.REGIONS[r].natural_region] for r in reg]) + 25.0
    air_cost = net.cost_a["air"] + net.cost_b["air"] * np.maximum(net.weight_mean, 0.5) * air_km
    b_mode = np.array([net.cost_b.get(m, 0.0) for m in net.lane_mode])
    cost = {
        "base": nf @ cost_lane,
        "mode_shift": (nf * shifted) @ np.where(road, air_cost - cost_lane, 0.0),
        "detour": (nf * detour_km) @ (b_mode * np.maximum(net.weight_mean, 0.5)),
        "mitigation": nf @ terms.extra_cost_order,
    }
    fuel_share = np.array([inputs.FUEL_SHARE.get(m, 0.35) for m in net.lane_mode])
    fuel_air = inputs.FUEL_SHARE["air"]
    fuel_base = nf @ (cost_lane * fuel_share) + (nf * shifted) @ np.where(
        road, air_cost * fuel_air - cost_lane * fuel_share, 0.0) + cost["detour"] * inputs.FUEL_SHARE["standard"]
    cost["fuel"] = fuel_base * inp.fuel_pct / 100.0
    return cost


def simulate(net: Network, inp: inputs.ScenarioInputs, runs: int = inputs.DEFAULT_RUNS, seed: int = 0,
             mitigation: Mitigation | None = None) -> SimResult:
    """Vectorised Monte Carlo of ``inp`` over the calibrated network: the mechanisms of the module docstring,
    one helper each, applied in a fixed order (their random draws too, so the same seed gives the same runs)."""
    if runs < 1:
        raise inputs.ScenarioError("runs must be at least 1")
    rng = np.random.default_rng(seed)
    draws = _Draws.make(rng, runs, net)
    start = inp.start or net.as_of
    win = _windows(inp, start)
    L, R, W, H = net.n_lanes, runs, win["wdays"].shape[0], inp.days
    reg, road = net.lane_region, net.road_mask()
    wmean = wmean_of(win)
    terms = _LaneTerms.of(net, mitigation, np.array(geo.REGION_CODES)[reg], road)

    # demand by category -> lane volume multiplier
    dmult = np.array([1.0 + inp.demand_pct.get(c, 0.0) / 100.0 for c in inputs.CATEGORIES])
    vm = net.cat_share @ dmult
    lam = net.per_day * vm * H  # expected orders per lane over the horizon

    fx = _Effects.none(R, L, W)
    _road_cuts(rng, net, inp, win, draws, terms, mitigation, fx)
    _north_coast_rain(rng, net, inp, win, terms.pmf, fx)
    _callao_port(rng, net, inp, win, terms.pmf, fx)
    _carrier_backlog(rng, net, inp, vm, terms.pmf, fx)

    p_road = _road_late_probability(net, win, terms.p_late, draws.eps_std, fx)
    air_p = net.air_late_region[reg]
    shifted = np.clip(fx.shift_air * (fx.any_cut_frac @ wmean)[None, :] + terms.forced_air[None, :], 0, 1)
    p_lane_run = (1 - shifted) * p_road + shifted * air_p[None, :]
    # order counts and late counts: Poisson and binomial draws through their normal approximation
    # (fast; exact enough for lane totals), clipped to valid ranges
    n = np.maximum(np.rint(lam[None, :] + np.sqrt(lam)[None, :] * draws.z[0]), 0.0)
    pc = np.clip(p_lane_run, 0, 1)
    late = np.clip(np.rint(n * pc + np.sqrt(n * pc * (1 - pc)) * draws.z[1]), 0.0, n)
    days_season = (net.season_days[REGION_NAT[reg]] @ win["month_w"].T)  # [L, W]
    base_days = net.mean_days[None, :] + (days_season @ wmean)[None, :]
    air_days = net.air_days_region[reg][None, :]
    days_lane = (1 - shifted) * (base_days + fx.extra_days) + shifted * air_days
    affected_p = np.clip(1 - (1 - fx.affected_p) * (1 - shifted), 0, 1)

    onehot = np.zeros((L, N_REGIONS))
    onehot[np.arange(L), reg] = 1.0
    nf = n.astype(float)
    return SimResult(
        runs=R, orders=nf @ onehot, late=late.astype(float) @ onehot, days_sum=(nf * days_lane) @ onehot,
        cost=_costs(net, inp, nf, shifted, fx.detour_km, terms), revenue_at_risk=late.astype(float) @ net.amount_mean,
        affected=(nf * affected_p).sum(1),
        meta={"horizon_days": H, "start": start.isoformat(), "lanes": L},
    )


def _best_carriers(net: Network, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Book the most reliable road carrier of each region x DC x mode for the selected lanes."""
    p, pmf, cost = net.p_late.copy(), net.slack_pmf.copy(), net.cost_mean.copy()
    for i in np.flatnonzero(sel):
        same = ((net.lane_region == net.lane_region[i]) & (net.lane_dc == net.lane_dc[i])
                & (net.lane_mode == net.lane_mode[i]) & (net.n_ref >= 10))
        if not same.any():
            continue
        j = np.flatnonzero(same)[np.argmin(net.p_late[same])]
        if net.p_late[j] < p[i]:
            p[i], pmf[i], cost[i] = net.p_late[j], net.slack_pmf[j], net.cost_mean[j]
    return p, pmf, cost


@dataclass(frozen=True)
class _LoopModel:
    """Plain-Python copies of what the per-run loop reads (lists, not arrays)."""

    net: Network
    inp: inputs.ScenarioInputs
    win: dict[str, np.ndarray]
    wmean: list[float]
    pmf: list[list[float]]
    slack: list[int]
    lane_code: list[str]
    nat: list[int]
    road: list[bool]
    cuts: list[tuple[str, set[str], float, float]]  # window name, regions, share of days cut, Beta concentration
    transit: list[float]  # highway days of a long-haul shipment
    base_lw: list[list[float]]  # [L][W] baseline late probability
    slope_lw: list[list[float]]
    s_se: list[float]  # seasonal-offset standard error by natural region

    @classmethod
    def of(cls, net: Network, inp: inputs.ScenarioInputs) -> _LoopModel:
        win = _windows(inp, inp.start or net.as_of)
        H = inp.days
        wdays = [float(x) for x in win["wdays"]]
        wsum = sum(wdays)
        cuts = []
        if inp.blockade_days and inp.blockade_regions:
            cuts.append(("blockade", set(inp.blockade_regions), *blockade_share(net, inp)))
        if inp.pan_norte_days:
            cuts.append(("norte", set(geo.CORRIDORS["panamericana_norte"]), min(inp.pan_norte_days / H, 1.0),
                         inputs.CUT_SHARE_CONCENTRATION))
        far_km = np.maximum(net.dist_mean - net.local_share * inputs.LOCAL_KM / 2, 0) / np.maximum(
            1 - net.local_share, 1e-3)
        transit = np.where(net.road_mask(), far_km / net.speed_km_day[net.lane_region], 0.0).tolist()
        s_det = net.season_logit @ win["month_w"].T + net.peak_logit[:, None] * win["peak"][None, :]
        s_se = np.sqrt((net.season_se ** 2) @ win["month_w"].T) @ wmean_of(win)
        base = _expit(np.log(net.p_late / (1 - net.p_late))[:, None] + s_det[REGION_NAT[net.lane_region]])
        return cls(net, inp, win, [x / wsum for x in wdays], net.slack_pmf.tolist(), [int(s) for s in SLACK_VALUES],
                   [geo.REGION_CODES[r] for r in net.lane_region], [int(REGION_NAT[r]) for r in net.lane_region],
                   net.road_mask().tolist(), cuts, transit, base.tolist(), (base * (1 - base)).tolist(),
                   [float(s_se[k]) for k in range(3)])

    def q_exp(self, lane: int, m: float) -> float:
        """P(an exponential wait of mean ``m`` makes an on-time order of this lane late)."""
        num = den = 0.0
        for s, p in zip(self.slack, self.pmf[lane]):
            if s >= 0:
                den += p
                num += p * math.exp(-(s + 0.5) / max(m, 1e-6))
        return num / den if den > 0 else 0.0

    def lane_late_p(self, rnd: random.Random, lane: int, eps: list[float], spells: dict[str, float],
                    air_share: float, rain_hit: float, rain_wait: float,
                    cut_draw: dict[tuple[str, int], tuple[float, float]]) -> float:
        """One run's late probability of one lane: baseline, road cuts (drawn once per run and region into
        ``cut_draw``), rain, and the share re-booked on air."""
        net, inp, nweeks = self.net, self.inp, len(self.wmean)
        urban = float(net.params["urban_exposure"].value)
        expo = ((1 - net.local_share[lane]) + net.local_share[lane] * urban) if self.road[lane] else 0.0
        surv_w = [1.0] * nweeks
        shift = 0.0
        for name, regs, share, k in self.cuts:
            if self.lane_code[lane] not in regs or not self.road[lane] or expo <= 0:
                continue
            key = (name, int(net.lane_region[lane]))
            if key not in cut_draw:
                c = rnd.betavariate(max(k * share, 1e-3), max(k * (1 - share), 1e-3)) if share < 1 else 1.0
                wait = min(max(c / max(1 - c, 1e-3) * spells[name], 0.25), inp.days)
                cut_draw[key] = (c, wait)
            c, wait = cut_draw[key]
            a = max(air_share * float(net.long_share[lane]), shift)
            shift = a
            q = self.q_exp(lane, wait)
            ls = float(net.local_share[lane])
            meet = 1 - (1 - c) * math.exp(-self.transit[lane] / spells[name])
            hit = ((1 - ls) * meet + ls * urban * c) * (1 - a)
            for w in range(nweeks):
                surv_w[w] *= 1 - hit * q * float(self.win[name][w])
        if inp.nino_intensity and self.lane_code[lane] in inputs.NORTH_COAST and self.road[lane]:
            q = self.q_exp(lane, rain_wait)
            for w in range(nweeks):
                surv_w[w] *= 1 - min(max(rain_hit, 0), 1) * (1 - shift) * q
        p_road = 0.0
        for w in range(nweeks):
            p0 = self.base_lw[lane][w] + self.slope_lw[lane][w] * eps[self.nat[lane]]
            p_road += self.wmean[w] * (1 - (1 - p0) * surv_w[w])
        shifted = 0.0
        if self.road[lane] and shift > 0:
            for w in range(nweeks):
                shifted += self.wmean[w] * max(
                    [float(self.win[nm][w]) for nm, regs, _, _ in self.cuts if self.lane_code[lane] in regs],
                    default=0.0)
            shifted *= shift
        return (1 - shifted) * p_road + shifted * float(net.air_late_region[net.lane_region[lane]])


def _poisson(rnd: random.Random, lam: float) -> int:
    """Knuth's method for small means, the normal approximation for large ones."""
    if lam < 30:
        el, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= rnd.random()
            if p <= el:
                return k
            k += 1
    return max(0, int(round(rnd.gauss(lam, math.sqrt(lam)))))


def simulate_loop(net: Network, inp: inputs.ScenarioInputs, runs: int = inputs.DEFAULT_RUNS,
                  seed: int = 0) -> dict[str, list[float]]:
    """The same model written as a plain per-run, per-lane Python loop (reference and benchmark).

    Covers the baseline, road cuts without detours, rain and fuel; returns per-run late rate for
    the whole network and the total cost."""
    if inp.central_days or inp.callao_days or inp.capacity_pct or inp.demand_pct:
        raise inputs.ScenarioError("simulate_loop covers baseline, blockades, Panamericana Norte, rain and fuel")
    rnd = random.Random(seed)
    model = _LoopModel.of(net, inp)
    out_rate, out_cost = [], []
    for _ in range(runs):
        eps = [rnd.gauss(0, 1) * model.s_se[k] for k in range(3)]
        open_spell = net.params["open_spell_days"].draw_one(rnd)
        air_share = min(max(net.params["air_shift_share"].draw_one(rnd), 0.0), 1.0)
        corridor_spell = net.params["corridor_open_spell_days"].draw_one(rnd)
        spells = {"blockade": open_spell, "norte": corridor_spell, "central": corridor_spell}
        rain_hit = net.params["flood_hit_per_level"].draw_one(rnd) * inp.nino_intensity
        rain_wait = net.params["flood_wait_days"].draw_one(rnd) * inputs.flood_wait_scale(inp.nino_intensity)
        cut_draw: dict[tuple[str, int], tuple[float, float]] = {}
        tot_n = tot_late = 0
        tot_cost = 0.0
        for lane in range(net.n_lanes):
            p = model.lane_late_p(rnd, lane, eps, spells, air_share, rain_hit, rain_wait, cut_draw)
            n = _poisson(rnd, float(net.per_day[lane]) * inp.days)
            late = sum(1 for _ in range(n) if rnd.random() < p)
            tot_n += n
            tot_late += late
            tot_cost += n * float(net.cost_mean[lane]) * (1 + inputs.FUEL_SHARE.get(str(net.lane_mode[lane]), 0.35)
                                                          * inp.fuel_pct / 100.0)
        out_rate.append(tot_late / max(tot_n, 1))
        out_cost.append(tot_cost)
    return {"late_rate": out_rate, "cost_no_shift": out_cost}
