"""Sourcing fixtures: scored suppliers of the shared demo dataset and a trained copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest


@pytest.fixture(scope="session")
def suppliers(demo_dir: Path) -> pl.DataFrame:
    from analytics import storage

    return storage.load_table(demo_dir, "sourcing_suppliers").frame


@pytest.fixture(scope="session")
def scored(suppliers: pl.DataFrame) -> pl.DataFrame:
    from analytics.sourcing.sustainability import attach_scores, score_components

    return attach_scores(score_components(suppliers), None)


@pytest.fixture(scope="session")
def trained(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A private copy of the demo dataset with the sourcing model trained (≈30 s, once per session)."""
    from analytics.sourcing.model import train_sourcing_model

    d = tmp_path_factory.mktemp("sourcing-trained") / "data"
    shutil.copytree(demo_dir, d, ignore=shutil.ignore_patterns(".cache", "models"))
    card = train_sourcing_model(d, None)
    return d, card
