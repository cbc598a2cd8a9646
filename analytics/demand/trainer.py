"""The demand trainer for ``python app.py train``: the ``demand`` section of the model card.

Trainer contract (:mod:`analytics.training`): ``train(data_dir, progress) -> {"demand": {...}}``, or
``SkipTraining`` when the orders cannot support a forecast (less than the history a backtest needs).
The section holds the chosen model, why, and every candidate's backtest at the default horizon (flat
numbers, so the Data page's model list and the model-age metric pick it up). The forecast itself is
kept in the data folder's demand cache, so the page and ``python app.py stock`` start from it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from analytics.demand.weekly import DemandDataError
from analytics.demand.weekly_forecast import DEFAULT_HORIZON, cached_forecast, model_card_section


def train(data_dir: Path | str, progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Backtest, choose and fit the demand model as of the end of the data; return the card section."""
    from analytics.engine.polars_engine import PolarsEngine
    from analytics.model_card import SkipTraining

    data_dir = Path(data_dir)
    try:
        fc = cached_forecast(data_dir, PolarsEngine(data_dir), None, DEFAULT_HORIZON, progress=progress)
    except DemandDataError as exc:
        raise SkipTraining(f"demand forecast: {exc}") from exc
    return {"demand": model_card_section(fc)}


__all__ = ["train"]
