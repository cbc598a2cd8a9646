"""Logistics fixtures: the demo dataset copied once and trained once per session (Keras included)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trained_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the 60,000-order demo dataset with the logistics models trained through
    analytics.training.train_all (so the model card is the merged one the CLI writes)."""
    from analytics.logistics.train import train
    from analytics.training import train_all

    d = tmp_path_factory.mktemp("logistics") / "data"
    shutil.copytree(demo_dir, d, ignore=shutil.ignore_patterns(".cache", "models", "logistics_scores.parquet"))
    train_all(d, trainers=[train])
    return d


@pytest.fixture(scope="session")
def trained_settings(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from web.settings import Settings

    return Settings(data_dir=trained_dir, live=False, demo_feed=False, cache_dir=tmp_path_factory.mktemp("lcache"))


@pytest.fixture()
def lrt(trained_settings):
    from web.runtime import configure

    return configure(trained_settings)
