"""What a scenario run produces: P10/P50/P90 bands of every metric for the baseline and the scenario (network
and by region), their paired difference, the tornado, the mitigations and the facts of the run.

``ScenarioOutcome.to_dict`` is the JSON the Scenarios page keeps in its store (and the CSV export reads back
with ``ScenarioOutcome.from_dict``); its keys are the ones the page has always stored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

from analytics.scenarios.inputs import ScenarioError, ScenarioInputs


@dataclass(frozen=True)
class Bands:
    """The 10th, 50th and 90th percentiles of a metric over the Monte Carlo runs."""

    p10: float
    p50: float
    p90: float

    @classmethod
    def from_dict(cls, d: Any) -> Bands:
        return cls(float(d["p10"]), float(d["p50"]), float(d["p90"]))


ZERO_BANDS = Bands(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class RegionSummary:
    late_rate: Bands
    avg_days: Bands
    orders: Bands

    @classmethod
    def from_dict(cls, d: Any) -> RegionSummary:
        return cls(Bands.from_dict(d["late_rate"]), Bands.from_dict(d["avg_days"]), Bands.from_dict(d["orders"]))


@dataclass(frozen=True)
class Summary:
    """One side (baseline or scenario) of a run: network totals and rates, cost by part, regions."""

    late_rate: Bands
    avg_days: Bands
    cost_pen: Bands
    cost_parts: dict[str, Bands]  # by analytics.scenarios.simulate.COST_PARTS
    revenue_at_risk_pen: Bands
    orders_affected: Bands
    orders: Bands
    by_region: dict[str, RegionSummary]  # ISO 3166-2:PE code -> bands (regions with orders only)

    def metric(self, name: str) -> Bands:
        """A network metric by name (``late_rate``, ``avg_days``, ``cost_pen``, ...)."""
        value = getattr(self, name)
        if not isinstance(value, Bands):
            raise KeyError(name)
        return value

    @classmethod
    def from_dict(cls, d: Any) -> Summary:
        return cls(
            late_rate=Bands.from_dict(d["late_rate"]), avg_days=Bands.from_dict(d["avg_days"]),
            cost_pen=Bands.from_dict(d["cost_pen"]),
            cost_parts={str(k): Bands.from_dict(v) for k, v in d["cost_parts"].items()},
            revenue_at_risk_pen=Bands.from_dict(d["revenue_at_risk_pen"]),
            orders_affected=Bands.from_dict(d["orders_affected"]), orders=Bands.from_dict(d["orders"]),
            by_region={str(k): RegionSummary.from_dict(v) for k, v in d["by_region"].items()})


@dataclass(frozen=True)
class Delta:
    """Scenario minus baseline, run by run (common random numbers), as bands."""

    late_rate: Bands
    avg_days: Bands
    cost_pen: Bands
    revenue_at_risk_pen: Bands
    orders_affected: Bands

    @classmethod
    def from_dict(cls, d: Any) -> Delta:
        return cls(**{f.name: Bands.from_dict(d[f.name]) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class TornadoBar:
    """One input alone (the others at business as usual): P50 of its paired effect."""

    driver: str  # blockade | pan_norte | nino | central | callao | fuel | demand | capacity
    late_rate_pp: float
    cost_pen: float
    avg_days: float

    @classmethod
    def from_dict(cls, d: Any) -> TornadoBar:
        return cls(str(d["driver"]), float(d["late_rate_pp"]), float(d["cost_pen"]), float(d["avg_days"]))


@dataclass(frozen=True)
class MitigationEffect:
    """A mitigation applied to the worst-hit regions and its simulated effect against the scenario."""

    kind: str  # preposition | air | carrier
    regions: list[str]
    late_rate_pp: Bands
    cost_pen: Bands
    revenue_at_risk_pen: Bands

    @classmethod
    def from_dict(cls, d: Any) -> MitigationEffect:
        return cls(str(d["kind"]), [str(r) for r in d["regions"]], Bands.from_dict(d["late_rate_pp"]),
                   Bands.from_dict(d["cost_pen"]), Bands.from_dict(d["revenue_at_risk_pen"]))


@dataclass(frozen=True)
class RunMeta:
    """The facts of a run: data cut-off, window, runs, network size, where the baseline came from."""

    as_of: date  # the simulator saw data before this day only
    start: date  # first simulated day
    days: int
    runs: int
    seed: int
    lanes: int
    baseline_source: str  # data | model
    port_calibration: str
    notes: list[str]
    reference_window: tuple[date, date]  # the months the baseline was learned from
    elapsed_s: float

    @classmethod
    def from_dict(cls, d: Any) -> RunMeta:
        lo, hi = d["reference_window"]
        return cls(as_of=date.fromisoformat(d["as_of"]), start=date.fromisoformat(d["start"]), days=int(d["days"]),
                   runs=int(d["runs"]), seed=int(d["seed"]), lanes=int(d["lanes"]),
                   baseline_source=str(d["baseline_source"]), port_calibration=str(d["port_calibration"]),
                   notes=[str(n) for n in d["notes"]], reference_window=(date.fromisoformat(lo), date.fromisoformat(hi)),
                   elapsed_s=float(d["elapsed_s"]))


def _jsonable(x: Any) -> Any:
    if isinstance(x, date):
        return x.isoformat()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


@dataclass(frozen=True)
class ScenarioOutcome:
    inputs: ScenarioInputs
    baseline: Summary
    scenario: Summary
    delta: Delta
    tornado: list[TornadoBar]
    mitigations: list[MitigationEffect]
    meta: RunMeta

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO strings): what the page stores."""
        out = _jsonable(dataclasses.asdict(self))
        out["inputs"] = self.inputs.to_dict()  # its own JSON form (what a saved scenario and the URL use)
        return out

    @classmethod
    def from_dict(cls, d: Any) -> ScenarioOutcome:
        """Back from ``to_dict``'s JSON; anything else raises ScenarioError."""
        try:
            return cls(inputs=ScenarioInputs.from_dict(d["inputs"]), baseline=Summary.from_dict(d["baseline"]),
                       scenario=Summary.from_dict(d["scenario"]), delta=Delta.from_dict(d["delta"]),
                       tornado=[TornadoBar.from_dict(x) for x in d["tornado"]],
                       mitigations=[MitigationEffect.from_dict(x) for x in d["mitigations"]],
                       meta=RunMeta.from_dict(d["meta"]))
        except ScenarioError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ScenarioError(f"not a scenario result: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Insights:
    """The slower part of a run, computed after the main result: tornado and mitigations."""

    tornado: list[TornadoBar]
    mitigations: list[MitigationEffect]


@dataclass(frozen=True)
class ComparedScenario:
    """A saved scenario's network bands, for the comparison chart."""

    name: str
    late_rate: Bands
    avg_days: Bands
    cost_pen: Bands
    revenue_at_risk_pen: Bands
    orders_affected: Bands
    delta_late_rate: Bands


__all__ = ["ZERO_BANDS", "Bands", "ComparedScenario", "Delta", "Insights", "MitigationEffect", "RegionSummary",
           "RunMeta", "ScenarioOutcome", "Summary", "TornadoBar"]
