"""Spark fixtures: one small local Spark session per test run, engines over the demo data."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import polars as pl
import pytest

SPARK_TEST_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "2g",
}


@pytest.fixture(scope="session")
def spark_session():
    """local[2], 4 shuffle partitions, UI off; started once, stopped at the end of the run."""
    from analytics.engine.spark_engine import build_session

    session = build_session("local[2]", SPARK_TEST_CONF, app_name="chasqui-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def engines(demo_dir: Path, spark_session):
    """(polars, spark) engines over the same read-only demo dataset."""
    from analytics.engine.polars_engine import PolarsEngine
    from analytics.engine.spark_engine import SparkEngine

    return PolarsEngine(demo_dir), SparkEngine(demo_dir, session=spark_session)


@pytest.fixture(scope="session")
def trained_spark_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the demo data with the logistics models trained (gradient boosting only)
    and the ``logistics_scores`` table written."""
    from analytics.logistics.scores_table import refresh_scores
    from analytics.logistics.train import train

    d = tmp_path_factory.mktemp("spark-trained") / "data"
    shutil.copytree(demo_dir, d, ignore=shutil.ignore_patterns(".cache"))
    train(d, None, train_net=False)
    refresh_scores(d, force=True)
    return d


def _norm(df: pl.DataFrame) -> pl.DataFrame:
    """Integer width and categorical/string flavour do not matter; values do."""
    return df.with_columns([pl.col(c).cast(pl.Int64) for c, t in df.schema.items() if t.is_integer()])


def assert_same(a: pl.DataFrame, b: pl.DataFrame, *, ordered: bool = True, rel: float = 1e-9) -> None:
    """Same columns, same dtypes (ignoring integer width), same rows; floats to ``rel``."""
    assert a.columns == b.columns, (a.columns, b.columns)
    a, b = _norm(a), _norm(b)
    assert a.schema == b.schema, (a.schema, b.schema)
    assert a.height == b.height, (a.height, b.height)
    if not ordered:
        keys = [c for c, t in a.schema.items() if not t.is_float()]
        a, b = a.sort(keys, nulls_last=True), b.sort(keys, nulls_last=True)
    for c, t in a.schema.items():
        x, y = a[c].to_list(), b[c].to_list()
        if t.is_float():
            for i, (u, v) in enumerate(zip(x, y)):
                if u is None or v is None or (isinstance(u, float) and math.isnan(u)):
                    assert (u is None) == (v is None), (c, i, u, v)
                else:
                    assert v == pytest.approx(u, rel=rel, abs=1e-12), (c, i, u, v)
        else:
            assert x == y, (c, [(i, u, v) for i, (u, v) in enumerate(zip(x, y)) if u != v][:5])


def assert_same_value(a, b, rel: float = 1e-9) -> None:
    """Recursive equality for query results (dicts, tuples, lists, frames, floats to ``rel``)."""
    if isinstance(a, pl.DataFrame):
        assert_same(a, b, rel=rel)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same_value(a[k], b[k], rel)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same_value(u, v, rel)
    elif isinstance(a, float) and b is not None:
        assert b == pytest.approx(a, rel=rel, abs=1e-12)
    else:
        assert a == b
