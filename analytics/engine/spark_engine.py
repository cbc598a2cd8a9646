"""Spark engine: the same narwhals queries on Apache Spark (pyspark 4.x).

Imported only when ``CHASQUI_ENGINE=spark`` (``analytics.engine.make_engine``); nothing on the default
path imports this module or pyspark.

* Master: ``local[*]`` by default; a cluster master URL (``spark://``, ``yarn``, ``k8s://``) or a Spark
  Connect URL (``sc://host:15002``) from ``CHASQUI_SPARK_MASTER``. The data directory must be visible at
  the same path to the app and to the cluster (shared filesystem), as it is for ``local[*]``.
* Session time zone America/Lima, so ``order_date`` truncation and timestamps behave as on Polars.
* Tables: the same layout as the Polars engine, ``DIR/<table>.parquet`` or a folder partitioned by month
  (``DIR/orders/order_month=2023-01/part-0.parquet``; see ``analytics.storage.write_partitioned``).
* Schema checks and quarantine with the same rules as ``analytics.storage.load_table``: the structure is
  checked from the Parquet footers, the per-row rules (``analytics.schemas``) are evaluated by Spark
  through narwhals, rows that break them are written to ``quarantine/<table>.parquet`` with their
  1-based ``row_number`` in file order and ``reason``, and are excluded from every query. Validation runs
  once per file version of a table.
* ``collect`` returns Polars with the dtypes Polars would give: tz-aware timestamps in America/Lima,
  ``dt.truncate`` of a Date back to Date (Spark's ``date_trunc`` always returns a timestamp).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import narwhals as nw
import polars as pl

from analytics import storage
from analytics.engine import metrics
from analytics.schemas import LIMA_TZ, SCHEMAS, TableSchema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

# Settings every Chasqui session gets (the caller's ``conf`` may add to or override them).
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": LIMA_TZ,
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.ui.showConsoleProgress": "false",
    # write instants as Parquet TIMESTAMP(MICROS, UTC-adjusted), which Polars reads back tz-aware (not INT96)
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
# Only for a JVM this process starts (local mode): modest memory, UI off.
LOCAL_CONF: dict[str, str] = {
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.extraJavaOptions": f"-Duser.timezone={LIMA_TZ}",
    "spark.executor.extraJavaOptions": f"-Duser.timezone={LIMA_TZ}",
    # Python workers (batch scoring) run this interpreter and see this checkout
    "spark.executorEnv.PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}
_SESSION_ONLY = ("spark.sql.",)  # runtime-settable keys (a Connect session accepts only these)


class SparkEngineError(RuntimeError):
    """Spark could not be started or reached (bad master URL, no Java, cluster down)."""


def is_connect_url(master: str) -> bool:
    return master.startswith("sc://")


def build_session(master: str = "local[*]", conf: dict[str, str] | None = None,
                  app_name: str = "chasqui") -> SparkSession:
    """Start (or reuse) the Spark session for ``master``; ``sc://`` URLs use Spark Connect."""
    from pyspark.sql import SparkSession

    settings = {**BASE_CONF, **(conf or {})}
    try:
        if is_connect_url(master):
            session = SparkSession.builder.remote(master).appName(app_name).getOrCreate()
        else:
            # pyspark starts Python workers with $PYSPARK_PYTHON (default: `python3` on PATH, which is not
            # necessarily this virtualenv); point it at this interpreter unless the user chose one.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = SparkSession.builder.master(master).appName(app_name)
            for k, v in {**LOCAL_CONF, **settings}.items():
                builder = builder.config(k, v)
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
    except Exception as exc:  # py4j / grpc errors: say what to check
        raise SparkEngineError(f"cannot start Spark session at {master!r}: {exc} "
                               "(is Java 17 installed, is the master URL right?)") from exc
    for k, v in settings.items():  # an existing session keeps its conf: set the runtime keys again
        if k.startswith(_SESSION_ONLY):
            with contextlib.suppress(Exception):
                session.conf.set(k, v)
    return session


@dataclass(frozen=True)
class _Loaded:
    version: str
    frame: Any  # pyspark DataFrame of the valid rows
    rows_read: int
    quarantined: int


class SparkEngine:
    """Engine over a Spark session (see module docstring)."""

    name = "spark"

    def __init__(self, data_dir: Path | str, master: str = "local[*]", *,
                 session: SparkSession | None = None, conf: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.master = master
        self._conf = conf
        self._session = session
        self._owns_session = session is None
        self._cache: dict[str, _Loaded] = {}
        self._lock = threading.RLock()

    # -- session ---------------------------------------------------------------------------------
    @property
    def spark(self) -> SparkSession:
        with self._lock:
            if self._session is None:
                self._session = build_session(self.master, self._conf)
            else:
                for k, v in BASE_CONF.items():
                    if k.startswith(_SESSION_ONLY):
                        with contextlib.suppress(Exception):
                            self._session.conf.set(k, v)
            return self._session

    @property
    def is_connect(self) -> bool:
        return not hasattr(self.spark, "sparkContext") or is_connect_url(self.master)

    def stop(self) -> None:
        """Stop the session this engine started (no-op for a session passed in)."""
        with self._lock:
            self._cache.clear()
            if self._session is not None and self._owns_session:
                self._session.stop()
            self._session = None

    # -- tables ----------------------------------------------------------------------------------
    def _read(self, name: str) -> SparkDataFrame:
        files = storage.table_files(self.data_dir, name)
        if not files:
            raise FileNotFoundError(
                f"table {name!r} not found in {self.data_dir} (run `python app.py generate`)")
        # Explicit files: no partition discovery, so the hive key is not a column (as on Polars).
        sdf = self.spark.read.parquet(*[str(f.resolve()) for f in files])
        keys = [k for k in storage.partition_keys(self.data_dir, name) if k in sdf.columns]
        return sdf.drop(*keys) if keys else sdf

    def _load(self, name: str) -> _Loaded:
        version = storage.table_version(self.data_dir, name)  # FileNotFoundError when absent
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and hit.version == version:
                return hit
            loaded = self._validate(name, version)
            self._cache[name] = loaded
        metrics.ROWS_LOADED.labels(table=name).inc(loaded.rows_read - loaded.quarantined)
        return loaded

    def _validate(self, name: str, version: str) -> _Loaded:
        files = storage.table_files(self.data_dir, name)
        rows_read = sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files)
        sdf = self._read(name)
        schema = SCHEMAS.get(name)
        if schema is None:
            return _Loaded(version, sdf, rows_read, 0)
        footer = pl.scan_parquet(files, hive_partitioning=False).collect_schema()
        schema.check_structure(pl.LazyFrame(schema={k: v for k, v in footer.items()}))
        valid = _valid_expr(schema)
        bad_n = nw.from_native(sdf).filter(~valid).select(nw.len().alias("n")).to_native().collect()[0]["n"]
        if not bad_n:
            return _Loaded(version, sdf, rows_read, 0)
        self._quarantine(name, schema, valid)
        good = nw.from_native(sdf).filter(valid).to_native()
        return _Loaded(version, good, rows_read, int(bad_n))

    def _quarantine(self, name: str, schema: TableSchema, valid: nw.Expr) -> None:
        """Write the broken rows like storage.load_table does: columns + row_number (file order) + reason."""
        from pyspark.sql import functions as F

        files = storage.table_files(self.data_dir, name)
        offsets: dict[str, int] = {}
        total = 0
        for f in files:
            offsets[str(f.resolve())] = total
            total += pl.scan_parquet(f).select(pl.len()).collect().item()
        sdf = self._read(name)
        cols = sdf.columns
        tagged = sdf.select(*cols, F.col("_metadata.file_path").alias("__file"),
                            F.col("_metadata.row_index").alias("__row_index"))
        bad = nw.from_native(tagged).filter(~valid).with_columns(_reason_expr(schema).alias("reason"))
        out = self.collect(bad)
        paths = [_local_path(p) for p in out["__file"].to_list()]
        out = out.with_columns(
            (pl.Series([offsets.get(p, 0) for p in paths], dtype=pl.Int64) + pl.col("__row_index").cast(pl.Int64)
             + 1).alias("row_number"),
        ).sort("row_number").select(*cols, "row_number", "reason")
        storage.write_quarantine(storage.quarantine_path(self.data_dir, name), out)

    def spark_frame(self, name: str) -> SparkDataFrame:
        """The validated table as a pyspark DataFrame (Spark-only helper, e.g. for batch scoring)."""
        return self._load(name).frame

    def table(self, name: str) -> nw.LazyFrame[Any]:
        return nw.from_native(self._load(name).frame)

    def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame:
        native = frame.to_native()
        if not _is_spark_frame(native):  # e.g. a Polars lazy frame handed to this engine
            return frame.collect(backend="polars").to_native()
        return to_polars(native)

    def has_table(self, name: str) -> bool:
        return storage.has_table(self.data_dir, name)

    def row_count(self, name: str) -> int:
        loaded = self._load(name)
        return loaded.rows_read - loaded.quarantined

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()


# -- helpers -----------------------------------------------------------------------------------------
def _valid_expr(schema: TableSchema) -> nw.Expr:
    """True where a row satisfies every column rule: the same ``Column.check`` callables as on
    Polars, applied to narwhals expressions (they use only operators narwhals shares with Polars)."""
    preds: list[nw.Expr] = []
    for c in schema.columns:
        col = nw.col(c.name)
        if not c.nullable:
            preds.append(~col.is_null())
        if c.check is not None:
            preds.append(c.check(col).fill_null(True))  # type: ignore[arg-type]
    if not preds:
        return nw.lit(True)
    out = preds[0]
    for p in preds[1:]:
        out = out & p
    return out


def _reason_expr(schema: TableSchema) -> nw.Expr:
    """The '; '-joined reasons a row breaks the schema (as ``TableSchema.reason_expr``)."""
    parts: list[nw.Expr] = []
    for c in schema.columns:
        col = nw.col(c.name)
        if not c.nullable:
            parts.append(nw.when(col.is_null()).then(nw.lit(f"{c.name}: missing")))
        if c.check is not None:
            ok: Any = c.check(col).fill_null(True)  # type: ignore[arg-type]
            parts.append(nw.when(~ok).then(nw.lit(f"{c.name}: {c.rule or 'invalid'}")))
    return nw.concat_str(parts, separator="; ", ignore_nulls=True)


def _local_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


def _is_spark_frame(native: Any) -> bool:
    mod = type(native).__module__
    return mod.startswith("pyspark.sql")


_TRUNC = re.compile(
    r"date_trunc\((year|yyyy|yy|quarter|month|mon|mm|week|day|dd), cast\([^#]+#\d+L? as timestamp\)"
    r"(?:, Some\([^)]*\))?\) AS (?:`[^`]+`|[^\s#]+)#(\d+)", re.IGNORECASE)
_REALIAS = re.compile(r"(?:`[^`]+`|[\w.]+)#(\d+)L? AS (?:`[^`]+`|[^\s#,\]]+)#(\d+)")


def _date_trunc_ids(plan: str) -> set[str]:
    """Expression ids in an analysed plan that are ``date_trunc(<day or coarser>, cast(<date>))``,
    following re-aliasing; those columns are dates on Polars."""
    ids = {m.group(2) for m in _TRUNC.finditer(plan)}
    if not ids:
        return ids
    edges = [(m.group(1), m.group(2)) for m in _REALIAS.finditer(plan)]
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            if a in ids and b not in ids:
                ids.add(b)
                changed = True
    return ids


def _date_columns(native: SparkDataFrame) -> set[str]:
    """Output columns of a Spark frame that are a Date truncated by narwhals' ``dt.truncate``."""
    from pyspark.sql.types import TimestampType

    ts_cols = [f.name for f in native.schema.fields if isinstance(f.dataType, TimestampType)]
    if not ts_cols:
        return set()
    jdf = getattr(native, "_jdf", None)
    if jdf is not None:  # classic: exact, by expression id
        analyzed = jdf.queryExecution().analyzed()
        ids = _date_trunc_ids(analyzed.toString())
        out = analyzed.output()
        found = set()
        for i in range(out.size()):
            attr = out.apply(i)
            if str(attr.exprId().id()) in ids and attr.name() in ts_cols:
                found.add(attr.name())
        return found
    # Spark Connect: no JVM handle; read the analysed plan text and match output names
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        native.explain(extended=True)
    text = buf.getvalue()
    analyzed_text = text.split("== Analyzed Logical Plan ==", 1)[-1].split("== Optimized", 1)[0]
    ids = _date_trunc_ids(analyzed_text)
    names = {m.group(0).split("#")[0].split(" AS ")[-1].strip("`")
             for m in re.finditer(r" AS (?:`[^`]+`|[^\s#]+)#(\d+)", analyzed_text) if m.group(1) in ids}
    return {c for c in ts_cols if c in names}


def to_polars(native: SparkDataFrame) -> pl.DataFrame:
    """A Spark result as Polars with Polars' dtypes: timestamps in America/Lima, truncated dates as Date."""
    dates = _date_columns(native)
    table = native.toArrow()
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    fixes = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            expr = pl.col(name).dt.convert_time_zone(LIMA_TZ)
            fixes.append(expr.dt.date().alias(name) if name in dates else expr)
    return df.with_columns(fixes) if fixes else df


__all__ = ["BASE_CONF", "LOCAL_CONF", "SparkEngine", "SparkEngineError", "build_session", "is_connect_url",
           "to_polars"]
