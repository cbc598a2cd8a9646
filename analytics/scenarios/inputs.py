"""What a scenario is: its physical description (inputs), the presets for real episodes, and the
documented physical assumptions the simulator uses.

Nothing here comes from the demo generator. Presets hold only what happened where and for how
long (public record, :data:`analytics.geo.DISRUPTIONS`) plus physical defaults documented below.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from analytics import geo

CATEGORIES: tuple[str, ...] = ("electronics", "fashion", "home", "groceries", "health_beauty", "hardware",
                               "toys", "sports")
HORIZONS: tuple[int, ...] = (4, 8, 12)
DEFAULT_HORIZON = 8
DEFAULT_RUNS = 1000

# --- physical assumptions: the priors of analytics.scenarios.mechanisms -----------------------------
# Each mechanism parameter is learned from an earlier episode of the same kind when the data before the as-of
# date has one (analytics.scenarios.mechanisms); these documented priors are used otherwise, with a spread wide
# enough to show in the P10-P90 band what we do not know. They are physical reasoning, not fitted to any dataset.
#
# A blockade is intermittent: pickets are raised, lifted and raised again. Prior share of the blockade's days
# on which the roads into a region are actually cut (half, for want of better knowledge), as a Beta with this
# concentration (higher = narrower; a share the user types gets the same concentration).
BLOCKADE_CUT_SHARE_PRIOR = 0.5
CUT_SHARE_CONCENTRATION = 12.0
# Mean length (days) of an "open" spell between cuts; with cut share c the mean cut spell is
# c / (1 - c) times this (two-state open/cut process), which is also the mean wait of a truck
# that meets a cut (exponential spells are memoryless). Uncertainty: log-normal sigma.
OPEN_SPELL_DAYS = 3.0
OPEN_SPELL_SIGMA = 0.3
# Deliveries inside the DC's own city (< 30 km) rarely use the blocked highways; they meet urban
# pickets only. Share of the highway exposure they keep:
URBAN_EXPOSURE = 0.35
LOCAL_KM = 30.0
# While roads are cut, operations re-book some long-haul (> 300 km) road shipments on air cargo:
# 5-20 % (uniform around 12.5 %).
AIR_SHIFT_PRIOR = 0.125
AIR_SHIFT_SPREAD = 0.6
AIR_SHIFT_MIN_KM = 300.0
# Detours that exist in the real network (extra road km). Blockades and the north coast have none.
DETOUR_EXTRA_KM: dict[str, float] = {"carretera_central": 250.0}  # via Canta / Vía Los Libertadores
# Share of freight cost that is fuel, by mode (industry rule of thumb for Peru).
FUEL_SHARE = {"standard": 0.35, "express": 0.35, "air": 0.40, "river": 0.30}
# El Niño / heavy rain on the north coast: per intensity step (0-3), chance that a road shipment meets
# flooded streets or local washouts (± 40 %), and the mean extra days when it does for a strong (level-2)
# event (log-normal); other levels scale as (1 + 0.5 x level) / 2.
RAIN_HIT_PER_LEVEL = 0.12
RAIN_HIT_SPREAD = 0.4
FLOOD_WAIT_DAYS = 2.0
FLOOD_WAIT_SIGMA = 0.35
RAIN_DELAY_BASE_DAYS = 1.0
RAIN_DELAY_PER_LEVEL = 0.5
# How a flood episode of the public record is described (its preset): a strong event (level 2) with the
# Panamericana Norte cut at several points on about half of its days.
FLOOD_EPISODE_LEVEL = 2
FLOOD_EPISODE_CUT_SHARE = 0.5
NORTH_COAST: tuple[str, ...] = geo.CORRIDORS["panamericana_norte"]
# Callao: goods that are mostly imported (stock that passes through the port); prior share of them whose
# stock is held at the port during a congestion spell (Beta, concentration 10) and the mean hold in days
# (log-normal).
IMPORTED_CATEGORIES: tuple[str, ...] = ("electronics", "toys", "home")
PORT_HOLD_SHARE_PRIOR = 0.55
PORT_HOLD_CONCENTRATION = 10.0
PORT_HOLD_DAYS_PRIOR = 2.2
PORT_HOLD_SIGMA = 0.3


def flood_wait_scale(level: int) -> float:
    """Mean flood wait at ``level`` relative to a strong (level-2) event."""
    return (RAIN_DELAY_BASE_DAYS + RAIN_DELAY_PER_LEVEL * level) / (RAIN_DELAY_BASE_DAYS + RAIN_DELAY_PER_LEVEL * 2)


# Carriers: capacity = the 95th percentile of daily volume they handled before the as-of date.
CAPACITY_QUANTILE = 0.95
CAPACITY_SIGMA = 0.15
# Mitigations
PREPOSITION_EXPOSURE = 0.4  # stock moved into the region before the cut: only regional legs exposed
PREPOSITION_COST_PEN = 4.0  # extra handling + transfer cost per pre-positioned order
MITIGATION_AIR_SHARE = 0.5  # switch modes: share of road orders of the worst regions moved to air


# Public retail calendar (known in advance): Christmas rush, Fiestas Patrias, Cyber Wow editions (geo.CYBER_WOW).
# Carriers need about a week to work off a peak's backlog.
PEAK_BACKLOG_DAYS = 6


def _peak_set(year: int) -> frozenset[date]:
    starts: list[tuple[date, date]] = [(date(year, 12, 10), date(year, 12, 24)), (date(year, 7, 20), date(year, 7, 31))]
    starts += [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in geo.CYBER_WOW
               if date.fromisoformat(a).year == year]
    out: set[date] = set()
    for a, b in starts:
        d = a
        while d <= b + timedelta(days=PEAK_BACKLOG_DAYS):
            out.add(d)
            d += timedelta(days=1)
    return frozenset(out)


def is_peak_day(d: date) -> bool:
    """A retail peak day or within the backlog week after one."""
    return d in _peak_set(d.year) or d in _peak_set(d.year - 1)


def peak_days(start: date, end: date) -> list[date]:
    days: set[date] = set()
    for y in range(start.year - 1, end.year + 1):
        days |= _peak_set(y)
    return sorted(d for d in days if start <= d <= end)


class ScenarioError(ValueError):
    """A scenario input is out of range or unknown."""


@dataclass(frozen=True)
class ScenarioInputs:
    """The physical description of a what-if scenario (all changes relative to business as usual)."""

    nino_intensity: int = 0  # 0 none, 1 moderate, 2 strong, 3 extraordinary
    pan_norte_days: int = 0  # days the Panamericana Norte is cut within the horizon
    blockade_regions: tuple[str, ...] = ()
    blockade_days: int = 0
    blockade_cut_share: float | None = None  # None: learned from earlier blockades, else the prior
    callao_days: int = 0
    central_days: int = 0  # Carretera Central closure
    fuel_pct: float = 0.0
    demand_pct: dict[str, float] = field(default_factory=dict)  # by category
    capacity_pct: float = 0.0
    horizon_weeks: int = DEFAULT_HORIZON
    horizon_days: int | None = None  # exact window (presets replay their episode length)
    start: date | None = None  # first simulated day; None = the day after the data ends

    def __post_init__(self) -> None:
        object.__setattr__(self, "blockade_regions", tuple(sorted(set(self.blockade_regions))))
        object.__setattr__(self, "demand_pct", {k: float(v) for k, v in sorted(self.demand_pct.items()) if v})
        self.validate()

    @property
    def days(self) -> int:
        return int(self.horizon_days or 7 * self.horizon_weeks)

    def validate(self) -> None:
        def rng(name: str, lo: float, hi: float) -> None:
            v = getattr(self, name)
            if not isinstance(v, int | float) or not (lo <= v <= hi):
                raise ScenarioError(f"{name} must be between {lo} and {hi}, got {v!r}")

        rng("nino_intensity", 0, 3)
        for n in ("pan_norte_days", "blockade_days", "callao_days", "central_days"):
            rng(n, 0, 120)
        if self.blockade_cut_share is not None:
            rng("blockade_cut_share", 0.0, 1.0)
        rng("fuel_pct", -50, 200)
        rng("capacity_pct", -80, 100)
        if self.horizon_weeks not in HORIZONS and self.horizon_days is None:
            raise ScenarioError(f"horizon_weeks must be one of {HORIZONS}, got {self.horizon_weeks!r}")
        if self.horizon_days is not None and not (1 <= self.horizon_days <= 120):
            raise ScenarioError(f"horizon_days must be between 1 and 120, got {self.horizon_days!r}")
        bad = [r for r in self.blockade_regions if r not in geo.REGION_BY_CODE]
        if bad:
            raise ScenarioError(f"unknown region codes: {bad}")
        for k, v in self.demand_pct.items():
            if k not in CATEGORIES:
                raise ScenarioError(f"unknown category {k!r}")
            if not -90 <= v <= 300:
                raise ScenarioError(f"demand change for {k} must be between -90 and 300 %, got {v}")

    def replace(self, **changes: Any) -> ScenarioInputs:
        return dataclasses.replace(self, **changes)

    def is_zero(self) -> bool:
        return self.without_changes() == self

    def without_changes(self) -> ScenarioInputs:
        """Business as usual over the same window."""
        return ScenarioInputs(horizon_weeks=self.horizon_weeks, horizon_days=self.horizon_days, start=self.start,
                              blockade_cut_share=self.blockade_cut_share)

    # --- serialisation (URL query string, JSON for saved scenarios) ----------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["blockade_regions"] = list(self.blockade_regions)
        d["start"] = self.start.isoformat() if self.start else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScenarioInputs:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ScenarioError(f"unknown scenario fields: {sorted(unknown)}")
        if d.get("start"):
            d["start"] = date.fromisoformat(str(d["start"]))
        if "blockade_regions" in d:
            d["blockade_regions"] = tuple(d["blockade_regions"] or ())
        return cls(**d)

    def to_query(self) -> str:
        """Inputs as a URL query string (only what differs from the defaults)."""
        q: dict[str, str] = {}
        default = ScenarioInputs()
        for f in ("nino_intensity", "pan_norte_days", "blockade_days", "blockade_cut_share", "callao_days",
                  "central_days", "fuel_pct", "capacity_pct", "horizon_weeks"):
            v = getattr(self, f)
            if v != getattr(default, f):
                q[f] = f"{v:g}" if isinstance(v, float) else str(v)
        if self.blockade_regions:
            q["blockade_regions"] = ",".join(self.blockade_regions)
        for k, v in self.demand_pct.items():
            q[f"demand_{k}"] = f"{v:g}"
        return urlencode(q)

    @classmethod
    def from_query(cls, query: str | dict[str, Any]) -> ScenarioInputs:
        """Parse a query string (or Dash's layout kwargs); unknown keys are ignored."""
        items = dict(parse_qsl(query.lstrip("?"))) if isinstance(query, str) else dict(query)
        kw: dict[str, Any] = {}
        ints = ("nino_intensity", "pan_norte_days", "blockade_days", "callao_days", "central_days", "horizon_weeks")
        floats = ("blockade_cut_share", "fuel_pct", "capacity_pct")
        try:
            for k in ints:
                if items.get(k) not in (None, ""):
                    kw[k] = int(float(items[k]))
            for k in floats:
                if items.get(k) not in (None, ""):
                    kw[k] = float(items[k])
            if items.get("blockade_regions"):
                kw["blockade_regions"] = tuple(x for x in str(items["blockade_regions"]).split(",") if x)
            demand = {c: float(items[f"demand_{c}"]) for c in CATEGORIES if items.get(f"demand_{c}") not in (None, "")}
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"bad scenario value in URL: {exc}") from exc
        if demand:
            kw["demand_pct"] = demand
        return cls(**kw)

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True)
class Preset:
    name: str
    episode: str | None  # the geo.DISRUPTIONS episode it replays (None: a hypothetical)
    inputs: ScenarioInputs
    regions: tuple[str, ...]  # the regions the backtest looks at
    as_of: date | None  # data up to the day before this date


def _episode(name: str) -> dict[str, Any]:
    for e in geo.DISRUPTIONS:
        if e["episode"] == name:
            return e
    raise KeyError(name)


def _preset_from_episode(name: str) -> Preset:
    e = _episode(name)
    start, end = date.fromisoformat(e["start"]), date.fromisoformat(e["end"])
    days = (end - start).days + 1
    regions = tuple(e["regions"])
    if e["kind"] == "road_blockade":
        inp = ScenarioInputs(blockade_regions=regions, blockade_days=days, horizon_days=days, start=start,
                             horizon_weeks=12)
    elif e["kind"] == "flood":
        # Cyclone Yaku: strong rains; the Panamericana Norte was cut at several points on about half
        # of the episode's days.
        inp = ScenarioInputs(nino_intensity=FLOOD_EPISODE_LEVEL, pan_norte_days=round(days * FLOOD_EPISODE_CUT_SHARE),
                             horizon_days=days, start=start, horizon_weeks=4)
    elif e["kind"] == "port_congestion":
        inp = ScenarioInputs(callao_days=days, horizon_days=days, start=start, horizon_weeks=8)
    else:  # pragma: no cover - geo only has the kinds above
        raise ScenarioError(f"no preset mechanics for episode kind {e['kind']!r}")
    return Preset(name, name, inp, regions, start)


def presets() -> dict[str, Preset]:
    """Real episodes (replayed as of the day before they began) plus hypothetical what-ifs."""
    out = {e["episode"]: _preset_from_episode(e["episode"]) for e in geo.DISRUPTIONS}
    out["central-closure-2w"] = Preset(
        "central-closure-2w", None, ScenarioInputs(central_days=14), geo.CORRIDORS["carretera_central"], None)
    out["nino-costero-strong"] = Preset(
        "nino-costero-strong", None,
        ScenarioInputs(nino_intensity=3, pan_norte_days=20, fuel_pct=10, horizon_weeks=8), NORTH_COAST, None)
    return out


def get_preset(name: str) -> Preset:
    p = presets()
    if name not in p:
        raise ScenarioError(f"unknown preset {name!r}; choose one of {sorted(p)}")
    return p[name]
