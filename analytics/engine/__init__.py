"""The engine contract. Queries are written once with narwhals over ``Engine.table`` and
materialised with ``Engine.collect``; the Polars engine is the default, Spark is imported only
when chosen.

``Engine.summary`` is the one-pass path for pages: a :class:`Summary` groups a whole table by a few keys
(``order_date`` and the like) into a small frame of additive aggregates, computed once per table version and
kept (in memory on Polars; on Spark also on disk, so every process of the host shares it). Queries filter and
roll up that small frame with Polars instead of asking the engine again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import narwhals as nw
import polars as pl

from analytics.engine.summary import Summary


@dataclass(frozen=True)
class EngineConfig:
    """Which engine to build, over which data folder (the web layer's ``Settings.engine_config()`` makes one)."""

    data_dir: Path
    engine: str = "polars"  # "polars" or "spark"
    spark_master: str = "local[*]"  # not sc://: driven by the host's Spark Connect server (engine.spark_server)
    cache_dir: Path | None = None  # None: DATA_DIR/.cache (where the host's Spark server keeps its state)


@runtime_checkable
class Engine(Protocol):
    name: str
    data_dir: Path

    def table(self, name: str, *, date_range: tuple[date | None, date | None] | None = None) -> nw.LazyFrame[Any]:
        """A lazy frame over a validated table (quarantined rows excluded). ``date_range`` (first, last day) is
        a hint: an engine may read only the month partitions in range; the caller still filters the rows."""
        ...

    def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame:
        """Run a lazy query and return the (small) result as a Polars DataFrame."""
        ...

    def has_table(self, name: str) -> bool: ...

    def row_count(self, name: str) -> int: ...

    def summary(self, spec: Summary) -> pl.DataFrame:
        """``spec`` over the whole table, computed once per table version (see the module docstring)."""
        ...

    def invalidate(self) -> None:
        """Forget cached tables (after generate/import rewrote them)."""
        ...


def make_engine(config: EngineConfig) -> Engine:
    """Build the engine named in ``config``; pyspark is imported only for ``spark``."""
    if config.engine == "spark":
        from analytics.engine.spark_engine import SparkEngine  # heavy: only on this branch

        return SparkEngine(config.data_dir, master=config.spark_master, cache_dir=config.cache_dir)
    if config.engine != "polars":
        raise ValueError(f"unknown engine {config.engine!r} (polars or spark)")
    from analytics.engine.polars_engine import PolarsEngine

    return PolarsEngine(config.data_dir)
