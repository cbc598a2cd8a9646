"""Everything the simulator learns from data, and only from data before the as-of date.

Queries are written once with narwhals over the engine. The result, a :class:`Network`, is a set
of small NumPy arrays over *lanes* (destination region x origin DC x mode x carrier) plus
seasonality, cost, speed and carrier-capacity estimates, and the disruption mechanisms' parameters
(:mod:`analytics.scenarios.mechanisms`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl

from analytics import geo
from analytics.scenarios import inputs
from analytics.scenarios.mechanisms import Param, learn

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 6
SLACK_MIN, SLACK_MAX = -1, 14  # promised - actual days, clipped; -1 means "late"
SLACK_VALUES = np.arange(SLACK_MIN, SLACK_MAX + 1)
PRIOR_ORDERS = 20.0  # shrink thin lanes towards their region x mode group
NATURAL = ("costa", "sierra", "selva")
REGION_NAT = np.array([NATURAL.index(r.natural_region) for r in geo.REGIONS])
MODES = ("standard", "express", "air", "river")


class CalibrationError(ValueError):
    """Not enough data before the as-of date to calibrate the simulator."""


def months_before(d: date, months: int) -> date:
    y, m = d.year, d.month - months
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, min(d.day, 28))


@dataclass
class Network:
    as_of: date  # first day not seen; data used: order_date < as_of
    ref_start: date
    ref_days: int
    lane_region: np.ndarray  # index into geo.REGION_CODES
    lane_dc: np.ndarray  # str
    lane_mode: np.ndarray  # str
    lane_carrier: np.ndarray  # index into carriers
    carriers: tuple[str, ...]
    n_ref: np.ndarray
    per_day: np.ndarray
    p_late: np.ndarray
    mean_days: np.ndarray
    amount_mean: np.ndarray
    cost_mean: np.ndarray
    dist_mean: np.ndarray
    weight_mean: np.ndarray
    local_share: np.ndarray
    long_share: np.ndarray
    slack_pmf: np.ndarray  # [L, K]
    cat_share: np.ndarray  # [L, 8] share of the lane's orders by category
    season_logit: np.ndarray  # [3 natural regions, 13 months] late log-odds vs the reference window
    season_se: np.ndarray  # [3, 13]
    season_days: np.ndarray  # [3, 13] extra mean delivery days vs the reference window
    peak_logit: np.ndarray  # [3] extra late log-odds on retail-peak days
    cost_a: dict[str, float]
    cost_b: dict[str, float]
    speed_km_day: np.ndarray  # [25] road km per delivery day (long-haul)
    cap_per_day: np.ndarray  # [C] carrier capacity (orders/day)
    mean_per_day_carrier: np.ndarray  # [C]
    params: dict[str, Param]  # mechanism parameters (analytics.scenarios.mechanisms): value, source, spread
    air_late_region: np.ndarray  # [25] air late rate by destination region (shrunk)
    air_days_region: np.ndarray  # [25]
    baseline_source: str = "data"
    notes: list[str] = field(default_factory=list)

    @property
    def port_source(self) -> str:
        """Where the port-congestion mechanism came from (earlier episodes, or ``prior``)."""
        return self.params["port_hold_days"].source

    def parameters(self) -> dict[str, dict[str, Any]]:
        """Every mechanism parameter as ``{name: {"value", "source", "p10", "p90"}}`` plus what the lanes were
        learned from (JSON-ready)."""
        out = {name: p.to_dict() for name, p in sorted(self.params.items())}
        window = f"orders {self.ref_start.isoformat()}..{(self.as_of - timedelta(days=1)).isoformat()}"
        total = float(self.n_ref.sum())
        out["baseline_late_rate"] = {"value": round(float((self.p_late * self.n_ref).sum() / max(total, 1.0)), 4),
                                     "source": window if self.baseline_source == "data" else "delay model"}
        out["seasonality"] = {"value": round(float(np.abs(self.season_logit).mean()), 4),
                              "source": f"orders {(self.as_of - timedelta(days=365)).isoformat()}.."
                                        f"{(self.as_of - timedelta(days=1)).isoformat()}"}
        return out

    @property
    def n_lanes(self) -> int:
        return int(self.n_ref.shape[0])

    def road_mask(self) -> np.ndarray:
        return (self.lane_mode == "standard") | (self.lane_mode == "express")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _orders_before(engine: Any, start: date, end_exclusive: date) -> Any:
    lf = engine.table("orders")
    cols = lf.collect_schema().names() if hasattr(lf, "collect_schema") else lf.columns
    preds = [nw.col("order_date") >= start, nw.col("order_date") < end_exclusive,
             nw.col("region").is_in(list(geo.REGION_CODES))]
    if "country" in cols:
        preds.append(nw.col("country") == "PE")
    return lf.filter(*preds)


def data_fingerprint(data_dir: Path) -> str:
    p = Path(data_dir) / "orders.parquet"
    st = p.stat()
    return hashlib.sha256(f"{p}:{st.st_mtime_ns}:{st.st_size}:{CALIBRATION_VERSION}".encode()).hexdigest()[:20]


def data_end(engine: Any) -> date:
    res = engine.collect(engine.table("orders").select(nw.col("order_date").max().alias("hi")))
    if res.height == 0 or res["hi"][0] is None:
        raise CalibrationError("the orders table is empty")
    return res["hi"][0]


def _reference_window(engine: Any, as_of: date) -> tuple[date, int, date]:
    """The reference window: the 3 months before ``as_of`` (fewer when the data starts later; at least two weeks),
    its length in days, and the first order date."""
    ref_start = months_before(as_of, 3)
    lo = engine.collect(_orders_before(engine, date(1900, 1, 1), as_of).select(
        nw.col("order_date").min().alias("lo"), nw.len().alias("n")))
    if lo["n"][0] == 0:
        raise CalibrationError(f"no Peruvian orders before {as_of}")
    first = lo["lo"][0]
    ref_start = max(ref_start, first)
    ref_days = (as_of - ref_start).days
    if ref_days < 14:
        raise CalibrationError(f"need at least two weeks of orders before {as_of}; data starts {first}")
    return ref_start, ref_days, first


def _lane_table(engine: Any, ref: Any) -> pl.DataFrame:
    """One row per lane (region x DC x mode x carrier) of the reference orders: counts, late orders, means,
    local and long-haul counts, the slack histogram (``s0``..) and the category mix (``c_<category>``)."""
    aggs = [
        nw.len().alias("n"), nw.col("is_late").cast(nw.Float64).sum().alias("late"),
        nw.col("actual_days").cast(nw.Float64).mean().alias("days"), nw.col("amount_pen").mean().alias("amount"),
        nw.col("shipping_cost_pen").mean().alias("cost"), nw.col("_dist").mean().alias("dist"),
        nw.col("weight_kg").mean().alias("weight"),
        (nw.col("_dist") < inputs.LOCAL_KM).cast(nw.Float64).sum().alias("local"),
        (nw.col("_dist") > inputs.AIR_SHIFT_MIN_KM).cast(nw.Float64).sum().alias("long"),
    ]
    aggs += [(nw.col("_slack") == int(k)).cast(nw.Float64).sum().alias(f"s{i}") for i, k in enumerate(SLACK_VALUES)]
    aggs += [(nw.col("category") == c).cast(nw.Float64).sum().alias(f"c_{c}") for c in inputs.CATEGORIES]
    return engine.collect(ref.group_by("region", "origin_dc", "shipping_mode", "carrier").agg(*aggs)).sort(
        "region", "origin_dc", "shipping_mode", "carrier")


def _shrunk_lane_rates(region: np.ndarray, mode: np.ndarray, n: np.ndarray, late: np.ndarray,
                       slack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Late probability and slack distribution per lane, thin lanes shrunk towards their region x mode group
    (and groups towards the network's rate) with PRIOR_ORDERS pseudo-orders."""
    group = region * len(MODES) + np.array([MODES.index(m) if m in MODES else 0 for m in mode])
    g_n = np.bincount(group, n, minlength=len(geo.REGIONS) * len(MODES))
    g_late = np.bincount(group, late, minlength=g_n.shape[0])
    g_slack = np.stack([np.bincount(group, slack[:, k], minlength=g_n.shape[0]) for k in range(slack.shape[1])], 1)
    tot_rate = late.sum() / n.sum()
    g_rate = (g_late + PRIOR_ORDERS * tot_rate) / (g_n + PRIOR_ORDERS)
    p_late = (late + PRIOR_ORDERS * g_rate[group]) / (n + PRIOR_ORDERS)
    g_pmf = (g_slack + 1e-9) / (g_n[:, None] + 1e-9 * slack.shape[1])
    pmf = (slack + PRIOR_ORDERS * g_pmf[group]) / (n[:, None] + PRIOR_ORDERS)
    return p_late, pmf / pmf.sum(1, keepdims=True)


def _air_by_region(region: np.ndarray, mode: np.ndarray, n: np.ndarray, late: np.ndarray,
                   days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Air late rate and delivery days by destination region (for re-booked shipments), shrunk towards the
    network's air figures."""
    is_air = mode == "air"
    a_n = np.bincount(region[is_air], n[is_air], minlength=len(geo.REGIONS))
    a_late = np.bincount(region[is_air], late[is_air], minlength=len(geo.REGIONS))
    a_days = np.bincount(region[is_air], (days * n)[is_air], minlength=len(geo.REGIONS))
    air_all = a_late.sum() / max(a_n.sum(), 1.0)
    air_days_all = a_days.sum() / max(a_n.sum(), 1.0) if a_n.sum() else 2.0
    air_late_region = (a_late + PRIOR_ORDERS * air_all) / (a_n + PRIOR_ORDERS)
    air_days_region = (a_days + PRIOR_ORDERS * air_days_all) / (a_n + PRIOR_ORDERS)
    return air_late_region, air_days_region


def calibrate(engine: Any, as_of: date) -> Network:
    """Learn the network from orders dated strictly before ``as_of``: lanes from the reference window
    (shrunk towards their region x mode), air by region, then seasonality, costs, road speed, carrier
    capacity (see the helpers), and every disruption mechanism's parameters from earlier episodes of its kind
    or its prior (analytics.scenarios.mechanisms)."""
    ref_start, ref_days, first = _reference_window(engine, as_of)
    ref = _orders_before(engine, ref_start, as_of).with_columns(
        (nw.col("promised_days") - nw.col("actual_days")).clip(SLACK_MIN, SLACK_MAX).alias("_slack"),
        nw.col("distance_km").fill_null(0.0).alias("_dist"),
    )
    lanes = _lane_table(engine, ref)
    if lanes.height == 0:
        raise CalibrationError(f"no orders in the reference window {ref_start}..{as_of - timedelta(days=1)}")
    code_idx = {c: i for i, c in enumerate(geo.REGION_CODES)}
    region = np.array([code_idx[r] for r in lanes["region"]])
    mode = lanes["shipping_mode"].to_numpy().astype(str)
    carriers = tuple(sorted(set(lanes["carrier"].to_list())))
    carrier = np.array([carriers.index(c) for c in lanes["carrier"]])
    n = lanes["n"].to_numpy().astype(float)
    late = lanes["late"].to_numpy().astype(float)
    slack = np.column_stack([lanes[f"s{i}"].to_numpy() for i in range(len(SLACK_VALUES))]).astype(float)
    cats = np.column_stack([lanes[f"c_{c}"].to_numpy() for c in inputs.CATEGORIES]).astype(float)
    p_late, pmf = _shrunk_lane_rates(region, mode, n, late, slack)
    days = lanes["days"].to_numpy()
    air_late_region, air_days_region = _air_by_region(region, mode, n, late, days)

    season_logit, season_se, season_days, peak_logit = _seasonality(engine, as_of, ref_start)
    cost_a, cost_b = _cost_model(engine, ref)
    speed = _road_speed(engine, ref)
    cap, mean_c = _carrier_capacity(engine, as_of, carriers)
    params, notes = learn(engine, as_of, first)
    return Network(
        as_of=as_of, ref_start=ref_start, ref_days=ref_days, lane_region=region,
        lane_dc=lanes["origin_dc"].to_numpy().astype(str), lane_mode=mode, lane_carrier=carrier, carriers=carriers,
        n_ref=n, per_day=n / ref_days, p_late=p_late, mean_days=days, amount_mean=lanes["amount"].to_numpy(),
        cost_mean=lanes["cost"].to_numpy(), dist_mean=lanes["dist"].to_numpy(), weight_mean=lanes["weight"].to_numpy(),
        local_share=lanes["local"].to_numpy() / n, long_share=lanes["long"].to_numpy() / n, slack_pmf=pmf,
        cat_share=cats / n[:, None], season_logit=season_logit, season_se=season_se, season_days=season_days,
        peak_logit=peak_logit, cost_a=cost_a, cost_b=cost_b, speed_km_day=speed, cap_per_day=cap,
        mean_per_day_carrier=mean_c, params=params,
        air_late_region=air_late_region, air_days_region=air_days_region, notes=notes,
    )


def _past_episode_mask(as_of: date) -> nw.Expr | None:
    """Orders inside earlier disruption episodes (public record) do not teach us normal seasonality."""
    expr = None
    for e in geo.DISRUPTIONS:
        s, t = date.fromisoformat(e["start"]), date.fromisoformat(e["end"])
        if s >= as_of:
            continue
        cond = (nw.col("order_date") >= s) & (nw.col("order_date") <= t) & nw.col("region").is_in(list(e["regions"]))
        expr = cond if expr is None else (expr | cond)
    return expr


def _seasonality(engine: Any, as_of: date, ref_start: date) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Late log-odds and mean-days offsets by natural region and calendar month (ordinary days),
    relative to the reference window, plus the extra log-odds of retail-peak days, all from the
    last twelve months before ``as_of``."""
    lo = as_of - timedelta(days=365)
    lf = _orders_before(engine, lo, as_of)
    mask = _past_episode_mask(as_of)
    if mask is not None:
        lf = lf.filter(~mask)
    peaks = inputs.peak_days(lo, as_of)
    lf = lf.with_columns(nw.col("order_date").dt.month().alias("_m"),
                         (nw.col("order_date") >= ref_start).alias("_ref"),
                         nw.col("order_date").is_in(peaks).alias("_peak"))
    res = engine.collect(lf.group_by("region", "_m", "_ref", "_peak").agg(
        nw.len().alias("n"), nw.col("is_late").cast(nw.Float64).sum().alias("late"),
        nw.col("actual_days").cast(nw.Float64).sum().alias("days")))
    code_idx = {c: i for i, c in enumerate(geo.REGION_CODES)}
    nat = REGION_NAT[np.array([code_idx[r] for r in res["region"]], dtype=int)] if res.height else np.zeros(0, int)
    month = res["_m"].to_numpy().astype(int)
    isref = res["_ref"].to_numpy().astype(bool)
    peak = res["_peak"].to_numpy().astype(bool)
    n, late, days = (res[c].to_numpy().astype(float) for c in ("n", "late", "days"))
    logit = np.zeros((3, 13))
    se = np.zeros((3, 13))
    dd = np.zeros((3, 13))
    peak_logit = np.zeros(3)
    prior = 60.0  # months with few orders stay close to the reference window
    for k in range(3):
        rn, rl, rd = n[(nat == k) & isref].sum(), late[(nat == k) & isref].sum(), days[(nat == k) & isref].sum()
        if rn < 30:
            continue
        r_rate, r_days = rl / rn, rd / rn
        # a month the last year has few ordinary days of is like the reference window's ordinary (non-peak) days:
        # the lanes' rates include the window's retail peaks, which the peak offset adds back on peak days only
        ordinary = (nat == k) & isref & ~peak
        o_n = n[ordinary].sum()
        o_rate = late[ordinary].sum() / o_n if o_n >= 30 else r_rate
        o_days = days[ordinary].sum() / o_n if o_n >= 30 else r_days
        for m in range(1, 13):
            sel = (nat == k) & (month == m) & ~peak
            mn, ml, md = n[sel].sum(), late[sel].sum(), days[sel].sum()
            rate = (ml + prior * o_rate) / (mn + prior)
            logit[k, m] = float(_logit(np.array(rate)) - _logit(np.array(r_rate)))
            se[k, m] = float(np.sqrt(1.0 / (mn + prior) / max(rate * (1 - rate), 1e-3)))
            dd[k, m] = float((md + prior * o_days) / (mn + prior) - r_days)
        # peak days against ordinary days of the same months
        pm = np.unique(month[(nat == k) & peak])
        on = (nat == k) & peak
        off = (nat == k) & ~peak & np.isin(month, pm)
        if n[on].sum() >= 30 and n[off].sum() >= 30:
            peak_logit[k] = float(_logit(np.array(late[on].sum() / n[on].sum()))
                                  - _logit(np.array(late[off].sum() / n[off].sum())))
    return logit, se, dd, peak_logit


def _cost_model(engine: Any, ref: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Least squares per mode: cost = a + b * weight_kg * distance_km."""
    x = nw.col("weight_kg").clip(0.5, None) * nw.col("_dist")
    res = engine.collect(ref.with_columns(x.alias("_x")).group_by("shipping_mode").agg(
        nw.len().alias("n"), nw.col("_x").sum().alias("sx"), nw.col("shipping_cost_pen").sum().alias("sy"),
        (nw.col("_x") * nw.col("_x")).sum().alias("sxx"),
        (nw.col("_x") * nw.col("shipping_cost_pen")).sum().alias("sxy")))
    a: dict[str, float] = {}
    b: dict[str, float] = {}
    for row in res.iter_rows(named=True):
        nn, sx, sy, sxx, sxy = (float(row[k]) for k in ("n", "sx", "sy", "sxx", "sxy"))
        den = nn * sxx - sx * sx
        slope = (nn * sxy - sx * sy) / den if den > 1e-9 else 0.0
        a[row["shipping_mode"]] = (sy - slope * sx) / nn
        b[row["shipping_mode"]] = max(slope, 0.0)
    for m in MODES:  # modes never seen: fall back to the dearest mode seen (conservative)
        a.setdefault(m, max(a.values()))
        b.setdefault(m, max(b.values()))
    return a, b


def _road_speed(engine: Any, ref: Any) -> np.ndarray:
    res = engine.collect(ref.filter(nw.col("shipping_mode").is_in(["standard", "express"]), nw.col("_dist") > 100)
                         .group_by("region").agg(nw.col("_dist").sum().alias("km"),
                                                 nw.col("actual_days").cast(nw.Float64).sum().alias("d")))
    speed = np.full(len(geo.REGIONS), np.nan)
    for row in res.iter_rows(named=True):
        if row["d"]:
            speed[geo.REGION_CODES.index(row["region"])] = row["km"] / row["d"]
    fallback = np.nanmedian(speed) if np.isfinite(speed).any() else 250.0
    return np.where(np.isfinite(speed), speed, fallback)


def _carrier_capacity(engine: Any, as_of: date, carriers: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Capacity = the busiest days a carrier handled in the last year (95th percentile of daily orders)."""
    lf = _orders_before(engine, as_of - timedelta(days=365), as_of)
    daily = engine.collect(lf.group_by("carrier", "order_date").agg(nw.len().alias("n")))
    cap = np.ones(len(carriers))
    mean = np.ones(len(carriers))
    for i, c in enumerate(carriers):
        v = daily.filter(pl.col("carrier") == c)["n"].to_numpy().astype(float)
        recent = daily.filter((pl.col("carrier") == c) & (pl.col("order_date") >= months_before(as_of, 3)))
        if v.size:
            span = max((as_of - months_before(as_of, 3)).days, 1)
            mean[i] = max(float(recent["n"].sum()) / span, 1e-3)
            cap[i] = max(float(np.quantile(v, inputs.CAPACITY_QUANTILE)), mean[i] * 1.1, 1.0)
    return cap, mean


def observed_late_share(engine: Any, regions: tuple[str, ...], start: date, end: date) -> tuple[float, int]:
    """Late share and order count in ``regions`` for order dates ``start``..``end`` (inclusive)."""
    res = engine.collect(engine.table("orders").filter(
        nw.col("order_date") >= start, nw.col("order_date") <= end, nw.col("region").is_in(list(regions)))
        .select(nw.col("is_late").cast(nw.Float64).mean().alias("r"), nw.len().alias("n")))
    n = int(res["n"][0])
    return (float(res["r"][0]) if n else float("nan")), n
