"""Batch scoring on Spark with the logistics model artifacts (late risk, P50/P90 delivery days).

Each Spark task loads the same hash-verified artifacts (``analytics.logistics.load_models``, cached per
Python worker) and scores its partition with ``analytics.logistics.features.build_features``, so
scoring 100 million orders is a cluster job rather than a loop on the driver. It uses
``DataFrame.mapInArrow`` (the Arrow sibling of ``mapInPandas``): batches reach the model as Arrow ->
Polars with exact dtypes (nullable integers, tz-aware timestamps) and no pandas round trip.

The models directory must be readable at the same path by every executor (shared filesystem), like the
data directory. Imported only from Spark code paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from analytics.schemas import LIMA_TZ

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame as SparkDataFrame

    from analytics.engine.spark_engine import SparkEngine

SCORE_COLUMNS = ("late_risk", "p50_days", "p90_days")


def _score_batches(models_dir: str, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Runs on the executors: Arrow batches in, the same batches plus the score columns out."""
    import pyarrow as pa

    from analytics.logistics import load_models, score

    models = load_models(models_dir)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_columns(  # Spark hands timestamps over in UTC; the features use Lima hours
            [pl.col(c).dt.convert_time_zone(LIMA_TZ) for c, t in frame.schema.items()
             if isinstance(t, pl.Datetime) and t.time_zone is not None])
        scores = score(models, frame)
        out = batch
        for name in SCORE_COLUMNS:
            out = out.append_column(name, pa.array(scores[name].to_numpy(), type=pa.float64()))
        yield out


def score_frame(sdf: SparkDataFrame, models_dir: Path | str) -> SparkDataFrame:
    """``sdf`` (orders) with ``late_risk``, ``p50_days`` and ``p90_days`` appended, computed on Spark.

    Raises analytics.logistics.ModelsNotTrainedError on the driver if there are no models yet.
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    from analytics.logistics import load_models

    models_dir = str(Path(models_dir).resolve())
    load_models(models_dir)  # fail fast on the driver (untrained, or an artifact hash mismatch)
    schema = StructType([*sdf.schema.fields, *[StructField(c, DoubleType(), True) for c in SCORE_COLUMNS]])

    def fn(batches: Iterator[Any]) -> Iterator[Any]:
        return _score_batches(models_dir, batches)

    return sdf.mapInArrow(fn, schema)


def score_table(engine: SparkEngine, models_dir: Path | str, table: str = "orders") -> SparkDataFrame:
    """The engine's validated ``table`` scored on Spark, plus ``risk_value`` = late_risk x amount_pen."""
    from analytics.engine.spark_engine import spark_functions

    scored = score_frame(engine.spark_frame(table), models_dir)
    F = spark_functions(scored)
    return scored.withColumn("risk_value", F.col("late_risk") * F.col("amount_pen"))


def write_scores(engine: SparkEngine, models_dir: Path | str, out_table: str = "logistics_scores",
                 table: str = "orders") -> Path:
    """Score ``table`` on the cluster and write ``DIR/<out_table>/order_month=YYYY-MM/`` (the partitioned
    layout both engines read); replaces an earlier single-file or folder version of ``out_table``."""
    import uuid

    from analytics.engine.spark_engine import spark_functions
    from analytics.storage import PARTITION_COLUMN, swap_in_partitioned

    d = engine.data_dir
    tmp = d / f".{out_table}.{uuid.uuid4().hex}.tmp"
    scored = score_table(engine, models_dir, table)
    F = spark_functions(scored)
    scored = scored.withColumn(PARTITION_COLUMN, F.date_format(F.col("order_date"), "yyyy-MM"))
    scored.write.partitionBy(PARTITION_COLUMN).parquet(str(tmp.resolve()))
    final = swap_in_partitioned(tmp, d, out_table)
    engine.invalidate()
    return final


__all__ = ["SCORE_COLUMNS", "score_frame", "score_table", "write_scores"]
