"""Scenarios: what-if planning with a vectorised Monte Carlo over the distribution network.

Public API: :class:`ScenarioInputs`, :func:`presets`, :func:`run_scenario`, :func:`backtest`,
:func:`simulate`, :func:`cli` (``python app.py scenario``). The simulator never reads the demo
generator: it sees data before the as-of date and the scenario's physical description only.
"""

from analytics.scenarios.calibrate import CalibrationError, Network, calibrate
from analytics.scenarios.inputs import (
    CATEGORIES,
    DEFAULT_HORIZON,
    DEFAULT_RUNS,
    HORIZONS,
    Preset,
    ScenarioError,
    ScenarioInputs,
    get_preset,
    presets,
)
from analytics.scenarios.outcome import (
    Bands,
    ComparedScenario,
    Insights,
    MitigationEffect,
    RunMeta,
    ScenarioOutcome,
    Summary,
    TornadoBar,
)
from analytics.scenarios.planner import (
    MAX_COMPARE,
    backtest,
    cli,
    compare,
    insights,
    load_saved,
    network,
    run_scenario,
    save_scenario,
    to_csv,
)
from analytics.scenarios.simulate import COST_PARTS, Mitigation, SimResult, simulate, simulate_loop

__all__ = [
    "CATEGORIES", "COST_PARTS", "DEFAULT_HORIZON", "DEFAULT_RUNS", "HORIZONS", "MAX_COMPARE", "Bands",
    "CalibrationError", "ComparedScenario", "Insights", "MitigationEffect", "RunMeta", "Summary", "TornadoBar",
    "Mitigation", "Network", "Preset", "ScenarioError", "ScenarioInputs", "ScenarioOutcome", "SimResult", "backtest",
    "calibrate", "cli", "compare", "get_preset", "insights", "load_saved", "network", "presets", "run_scenario", "save_scenario",
    "simulate", "simulate_loop", "to_csv",
]
