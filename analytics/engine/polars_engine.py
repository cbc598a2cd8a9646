"""Polars engine: tables are read once per file version, validated, and kept in memory."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from analytics import storage
from analytics.engine import metrics
from analytics.engine.summary import Summary


class PolarsEngine:
    name = "polars"

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self._cache: dict[str, tuple[str, pl.DataFrame]] = {}
        self._summaries: dict[str, tuple[str, pl.DataFrame]] = {}
        self._lock = threading.Lock()

    def _frame(self, name: str) -> pl.DataFrame:
        try:
            mtime = storage.table_version(self.data_dir, name)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"table {name!r} not found in {self.data_dir} (run `python app.py generate`)"
            ) from None
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and hit[0] == mtime:
                return hit[1]
            result = storage.load_table(self.data_dir, name)
            self._cache[name] = (mtime, result.frame)
        metrics.ROWS_LOADED.labels(table=name).inc(result.frame.height)
        metrics.TABLE_ROWS.labels(table=name).set(result.frame.height)
        return result.frame

    def frame(self, name: str) -> pl.DataFrame:
        """The validated table as an eager Polars DataFrame (Polars-only helper)."""
        return self._frame(name)

    def table(self, name: str, *, date_range: tuple[date | None, date | None] | None = None) -> nw.LazyFrame[Any]:
        return nw.from_native(self._frame(name).lazy())  # in memory: the date range is the query's filter

    def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame:
        return frame.collect(backend="polars").to_native()

    def has_table(self, name: str) -> bool:
        return storage.has_table(self.data_dir, name)

    def row_count(self, name: str) -> int:
        return self._frame(name).height

    def summary(self, spec: Summary) -> pl.DataFrame:
        frame = self._frame(spec.table)
        version = storage.table_version(self.data_dir, spec.table)
        hit = self._summaries.get(spec.digest)
        if hit is not None and hit[0] == version:
            return hit[1]
        out = self.collect(spec.query(nw.from_native(frame.lazy())))
        with self._lock:
            self._summaries[spec.digest] = (version, out)
        return out

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._summaries.clear()
