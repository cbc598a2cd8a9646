"""The engine contract. Queries are written once with narwhals over ``Engine.table`` and
materialised with ``Engine.collect``; the Polars engine is the default, Spark is imported only
when chosen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import narwhals as nw
import polars as pl

if TYPE_CHECKING:
    from analytics.settings import Settings


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


def make_engine(settings: Settings) -> Engine:
    """Pick the engine named in settings; pyspark is imported only for ``spark``."""
    if settings.engine == "spark":
        from analytics.engine.spark_engine import SparkEngine  # heavy: only on this branch

        return SparkEngine(settings.data_dir, master=settings.spark_master)
    from analytics.engine.polars_engine import PolarsEngine

    return PolarsEngine(settings.data_dir)
