"""Spark engine: the same narwhals queries on Apache Spark (pyspark 4.x).

Imported only when ``CHASQUI_ENGINE=spark`` (``analytics.engine.make_engine``); nothing on the default
path imports this module or pyspark.

* Master: ``local[*]`` by default, or a cluster master URL (``spark://``, ``yarn``, ``k8s://``), from
  ``CHASQUI_SPARK_MASTER``: no Chasqui process starts a Spark driver of its own; the host's one Spark Connect
  server (``analytics.engine.spark_server``, started by whichever process needs it first) drives that master
  and every process connects to it. A Spark Connect URL (``sc://host:15002``) is used as it is. The data
  directory (and ``models/``) must be visible at the same path to the app and to the cluster (shared
  filesystem), as it is for ``local[*]``. ``SparkEngine(session=...)`` uses a session the caller built
  (``build_session``: classic for a master URL, Connect for ``sc://``), as tests and benchmarks do.
* Fewer round trips: a table's validation (row count, quarantined rows) is recorded per file version under
  ``CACHE_DIR/spark/validated`` so no process validates unchanged files again; ``summary`` results (one pass
  into small per-day aggregates, see ``analytics.engine.Summary``) are kept per table version as Parquet under
  ``CACHE_DIR/spark/summaries`` and read by every process; a month-partitioned table read with ``date_range``
  opens only the months in range (the filter itself is still applied by the query).
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
import functools
import hashlib
import io
import json
import os
import re
import sys
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import narwhals as nw
import polars as pl

from analytics import storage
from analytics.datadir import CacheDir, DataDir
from analytics.engine import metrics
from analytics.engine.summary import Summary
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


@functools.cache
def _grpc_under_gevent() -> bool:
    """In a gevent process (gunicorn's gevent workers) gRPC must run on gevent's hub, or every Spark Connect
    call blocks the worker's event loop (health checks time out, the worker is killed). Once per process,
    before the first channel."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return False
    import grpc.experimental.gevent as grpc_gevent

    grpc_gevent.init_gevent()
    return True


def build_session(master: str = "local[*]", conf: dict[str, str] | None = None,
                  app_name: str = "chasqui") -> SparkSession:
    """A Spark session for ``master``: an ``sc://`` URL gets a new Spark Connect session (the runtime SQL
    settings sent in one call); any other master starts (or reuses) a classic in-process driver."""
    from pyspark.sql import SparkSession

    settings = {**BASE_CONF, **(conf or {})}
    try:
        if is_connect_url(master):
            # The Connect builder itself, not pyspark.sql's: that one also marks the whole process as Spark
            # Connect (SPARK_CONNECT_MODE_ENABLED), after which a classic session in it (tests, benchmarks) breaks.
            from pyspark.sql.connect.session import SparkSession as ConnectSession

            _grpc_under_gevent()
            remote = ConnectSession.builder.remote(master).appName(app_name)
            for k, v in settings.items():
                if k.startswith(_SESSION_ONLY):
                    remote = remote.config(k, v)
            # not getOrCreate: that would hand back another server's session
            return remote.create()  # type: ignore[return-value]  # the Connect flavour of SparkSession
        else:
            # pyspark starts Python workers with $PYSPARK_PYTHON (default: `python3` on PATH, which is not
            # necessarily this virtualenv); point it at this interpreter unless the user chose one.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = SparkSession.builder.master(master).appName(app_name)
            for k, v in {**LOCAL_CONF, **settings}.items():
                builder = builder.config(k, v)
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
    except SystemExit as exc:  # pyspark's Connect check exits when __main__ has no file (`python -c`, xdist)
        raise SparkEngineError(f"cannot start Spark session at {master!r}: Spark Connect's dependencies are "
                               f"missing (pyspark exited with {exc.code!r})") from exc
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
                 session: SparkSession | None = None, conf: dict[str, str] | None = None,
                 cache_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.master = master
        self.cache_dir = Path(cache_dir) if cache_dir is not None else DataDir(self.data_dir).cache.root
        self._conf = conf
        self._session = session
        self._owns_session = session is None
        self._configured = False
        self._lease: Any = None  # this process's hold on the host's Spark Connect server
        self._cache: dict[str, _Loaded] = {}
        self._summaries: dict[str, tuple[str, pl.DataFrame]] = {}
        self._lock = threading.RLock()

    # -- session ---------------------------------------------------------------------------------
    @property
    def spark(self) -> SparkSession:
        with self._lock:
            if self._session is None:
                self._session = build_session(self._connect_url(), self._conf)
            elif not self._configured:  # a session passed in: our SQL settings, once
                for k, v in BASE_CONF.items():
                    if k.startswith(_SESSION_ONLY):
                        with contextlib.suppress(Exception):
                            self._session.conf.set(k, v)
            self._configured = True
            return self._session

    def _connect_url(self) -> str:
        """``sc://`` masters as they are; any other master through the host's Spark Connect server."""
        if is_connect_url(self.master):
            return self.master
        from analytics.engine import spark_server

        try:
            info, self._lease = spark_server.ensure_server(spark_server.server_dir(self.cache_dir), self.master,
                                                           self._conf)
        except spark_server.SparkServerError as exc:
            raise SparkEngineError(f"cannot start Spark for {self.master!r}: {exc}") from exc
        return info.url

    @property
    def is_connect(self) -> bool:
        return type(self.spark).__module__.startswith("pyspark.sql.connect")

    def stop(self) -> None:
        """Stop the session this engine started (no-op for a session passed in) and let go of the host's
        server (it stops by itself once no process uses it)."""
        with self._lock:
            self._cache.clear()
            self._summaries.clear()
            if self._session is not None and self._owns_session:
                self._session.stop()
            self._session = None
            self._configured = False
            if self._lease is not None:
                self._lease.close()
                self._lease = None

    @property
    def _spark_cache(self) -> Path:
        return CacheDir(self.cache_dir).spark

    # -- tables ----------------------------------------------------------------------------------
    def _read(self, name: str, files: list[Path] | None = None) -> SparkDataFrame:
        files = storage.table_files(self.data_dir, name) if files is None else files
        if not files:
            raise FileNotFoundError(
                f"table {name!r} not found in {self.data_dir} (run `python app.py generate`)")
        # Explicit files: no partition discovery, so the hive key is not a column (as on Polars).
        sdf = self.spark.read.parquet(*[str(f.resolve()) for f in files])
        keys = storage.partition_keys(self.data_dir, name)
        keys = [k for k in keys if k in sdf.columns] if keys else []
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

    def _validated_path(self, name: str) -> Path:
        return self._spark_cache / "validated" / f"{name}.json"

    def _validate(self, name: str, version: str) -> _Loaded:
        """Check the table once per file version; the outcome is recorded for every process of the host."""
        files = storage.table_files(self.data_dir, name)
        sdf = self._read(name, files)
        schema = SCHEMAS.get(name)
        if schema is None:
            rows = sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files)
            return _Loaded(version, sdf, rows, 0)
        valid = _valid_expr(schema)
        record = self._validated_path(name)
        want = {"version": version, "schema": _schema_digest(schema)}
        with contextlib.suppress(OSError, ValueError):
            seen = json.loads(record.read_text())
            if {k: seen.get(k) for k in want} == want and (
                    not seen["quarantined"] or storage.quarantine_path(self.data_dir, name).exists()):
                good = nw.from_native(sdf).filter(valid).to_native() if seen["quarantined"] else sdf
                return _Loaded(version, good, int(seen["rows_read"]), int(seen["quarantined"]))
        rows_read = sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files)
        footer = pl.scan_parquet(files, hive_partitioning=False).collect_schema()
        schema.check_structure(pl.LazyFrame(schema={k: v for k, v in footer.items()}))
        bad_n = int(self.collect(nw.from_native(sdf).filter(~valid).select(nw.len().alias("n")))["n"][0] or 0)
        if bad_n:
            self._quarantine(name, schema, valid)
        _write_json(record, {**want, "rows_read": rows_read, "quarantined": bad_n})
        if not bad_n:
            return _Loaded(version, sdf, rows_read, 0)
        good = nw.from_native(sdf).filter(valid).to_native()
        return _Loaded(version, good, rows_read, bad_n)

    def _quarantine(self, name: str, schema: TableSchema, valid: nw.Expr) -> None:
        """Write the broken rows like storage.load_table does: columns + row_number (file order) + reason."""
        files = storage.table_files(self.data_dir, name)
        offsets: dict[str, int] = {}
        total = 0
        for f in files:
            offsets[str(f.resolve())] = total
            total += pl.scan_parquet(f).select(pl.len()).collect().item()
        sdf = self._read(name)
        cols = sdf.columns
        F = spark_functions(sdf)
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

    def table(self, name: str, *, date_range: tuple[date | None, date | None] | None = None) -> nw.LazyFrame[Any]:
        """The validated table; ``date_range`` (first, last day) lets a month-partitioned table open only the
        ``order_month=YYYY-MM`` folders in range (the caller still filters the rows)."""
        loaded = self._load(name)
        files = _months_in_range(storage.table_files(self.data_dir, name), date_range) if date_range else None
        if files is None:
            return nw.from_native(loaded.frame)
        if not files:  # no month in range: an empty frame with the table's columns
            return nw.from_native(loaded.frame.limit(0))
        sdf = self._read(name, files)
        schema = SCHEMAS.get(name)
        if loaded.quarantined and schema is not None:
            sdf = nw.from_native(sdf).filter(_valid_expr(schema)).to_native()
        return nw.from_native(sdf)

    def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame:
        native = frame.to_native()
        if not _is_spark_frame(native):  # e.g. a Polars lazy frame handed to this engine
            return frame.collect(backend="polars").to_native()
        return to_polars(native)

    def summary(self, spec: Summary) -> pl.DataFrame:
        """``spec`` in one Spark pass per table version, kept in memory and as Parquet for every process."""
        loaded = self._load(spec.table)
        tag = hashlib.sha256(loaded.version.encode()).hexdigest()[:12]
        with self._lock:
            hit = self._summaries.get(spec.digest)
            if hit is not None and hit[0] == loaded.version:
                return hit[1]
        folder = self._spark_cache / "summaries"
        path = folder / f"{spec.table}-{spec.digest}-{tag}.parquet"
        out: pl.DataFrame | None = None
        with contextlib.suppress(OSError, pl.exceptions.PolarsError):
            out = pl.read_parquet(path) if path.exists() else None
        if out is None:
            out = self.collect(spec.query(nw.from_native(loaded.frame)))
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{path.name}.{os.getpid()}.tmp"
            out.write_parquet(tmp)
            os.replace(tmp, path)
            for old in folder.glob(f"{spec.table}-{spec.digest}-*.parquet"):  # earlier versions of the table
                if old != path:
                    old.unlink(missing_ok=True)
        with self._lock:
            self._summaries[spec.digest] = (loaded.version, out)
        return out

    def has_table(self, name: str) -> bool:
        return storage.has_table(self.data_dir, name)

    def row_count(self, name: str) -> int:
        loaded = self._load(name)
        return loaded.rows_read - loaded.quarantined

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._summaries.clear()


# -- helpers -----------------------------------------------------------------------------------------
def _schema_digest(schema: TableSchema) -> str:
    text = "\n".join(f"{c.name}:{c.dtype}:{c.nullable}:{c.rule}:{c.check is not None}" for c in schema.columns)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


_MONTH = re.compile(rf"(?:^|/){storage.PARTITION_COLUMN}=(\d{{4}})-(\d{{2}})(?:/|$)")


def _months_in_range(files: list[Path], date_range: tuple[date | None, date | None]) -> list[Path] | None:
    """The files of a month-partitioned table whose month overlaps ``date_range``; None when the table is
    not partitioned by month (read it whole)."""
    lo, hi = date_range
    lo_m = (lo.year, lo.month) if lo else None
    hi_m = (hi.year, hi.month) if hi else None
    keep = []
    for f in files:
        m = _MONTH.search(f.as_posix())
        if m is None:
            return None
        month = (int(m.group(1)), int(m.group(2)))
        if (lo_m is None or month >= lo_m) and (hi_m is None or month <= hi_m):
            keep.append(f)
    return keep


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
    # a balanced tree of ANDs: a chain as deep as a wide table's rules overflows Spark Connect's plan decoder
    while len(preds) > 1:
        preds = [preds[i] & preds[i + 1] if i + 1 < len(preds) else preds[i] for i in range(0, len(preds), 2)]
    return preds[0]


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


def spark_functions(sdf: Any) -> Any:
    """``pyspark.sql.functions`` for a classic frame, ``pyspark.sql.connect.functions`` for a Spark Connect one
    (a process may hold both: each frame gets columns of its own kind)."""
    if type(sdf).__module__.startswith("pyspark.sql.connect"):
        from pyspark.sql.connect import functions as connect_functions

        return connect_functions
    from pyspark.sql import functions

    return functions


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
    table = native.toArrow()
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    # only a result with timestamps needs the plan read (on Spark Connect that is one more round trip)
    dates = _date_columns(native) if any(isinstance(t, pl.Datetime) for t in df.schema.values()) else set()
    fixes = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            expr = pl.col(name).dt.convert_time_zone(LIMA_TZ)
            fixes.append(expr.dt.date().alias(name) if name in dates else expr)
    return df.with_columns(fixes) if fixes else df


__all__ = ["BASE_CONF", "LOCAL_CONF", "SparkEngine", "SparkEngineError", "build_session", "is_connect_url",
           "spark_functions",
           "to_polars"]
