"""The engine contract. Queries are written once with narwhals over ``Engine.table`` and
materialised with ``Engine.collect``; the Polars engine is the default, Spark is imported only
when chosen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import narwhals as nw
import polars as pl


@dataclass(frozen=True)
class EngineConfig:
    """Which engine to build, over which data folder (the web layer's ``Settings.engine_config()`` makes one)."""

    data_dir: Path
    engine: str = "polars"  # "polars" or "spark"
    spark_master: str = "local[*]"


@runtime_checkable
class Engine(Protocol):
    name: str
    data_dir: Path

    def table(self, name: str) -> nw.LazyFrame[Any]:
        """A lazy frame over a validated table (quarantined rows excluded)."""
        ...

    def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame:
        """Run a lazy query and return the (small) result as a Polars DataFrame."""
        ...

    def has_table(self, name: str) -> bool: ...

    def row_count(self, name: str) -> int: ...

    def invalidate(self) -> None:
        """Forget cached tables (after generate/import rewrote them)."""
        ...


def make_engine(config: EngineConfig) -> Engine:
    """Build the engine named in ``config``; pyspark is imported only for ``spark``."""
    if config.engine == "spark":
        from analytics.engine.spark_engine import SparkEngine  # heavy: only on this branch

        return SparkEngine(config.data_dir, master=config.spark_master)
    if config.engine != "polars":
        raise ValueError(f"unknown engine {config.engine!r} (polars or spark)")
    from analytics.engine.polars_engine import PolarsEngine

    return PolarsEngine(config.data_dir)
