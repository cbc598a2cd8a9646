"""Fixtures: shelf-life models fitted on generated lots for several world seeds (fitted once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pytest

SEEDS = (11, 12, 13)
N_LOTS = 2500


@dataclass
class Fitted:
    seed: int
    features: pl.DataFrame
    y: np.ndarray
    result: dict[str, Any]
    lots: pl.DataFrame
    readings: pl.DataFrame

    def test_rows(self) -> np.ndarray:
        return self.result["split"][2]


def _fit(seed: int) -> Fitted:
    from analytics.shelflife.features import exposures, feature_frame
    from analytics.shelflife.histories import generate_histories
    from analytics.shelflife.model import fit_and_compare
    from analytics.shelflife.truth import arrival_quality, draw_world

    batch = generate_histories(N_LOTS, seed)
    truth = arrival_quality(batch.lots, batch.readings, draw_world(seed), seed=seed)
    feats = feature_frame(batch.lots, exposures(batch.readings, batch.lots))
    y = truth["remaining_days"].to_numpy()
    return Fitted(seed, feats, y, fit_and_compare(feats, y, seed=seed), batch.lots, batch.readings)


class _Cache:
    """Fits a seed on first use, once per session."""

    def __init__(self) -> None:
        self._by_seed: dict[int, Fitted] = {}

    def __getitem__(self, seed: int) -> Fitted:
        if seed not in self._by_seed:
            self._by_seed[seed] = _fit(seed)
        return self._by_seed[seed]


@pytest.fixture(scope="session")
def fitted_by_seed() -> _Cache:
    """Keras net and gradient boosting fitted and compared, per seed in SEEDS (lazily)."""
    return _Cache()


@pytest.fixture(scope="session")
def fitted(fitted_by_seed: _Cache) -> Fitted:
    return fitted_by_seed[SEEDS[0]]
