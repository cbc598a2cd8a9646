"""Parquet tables under a data directory: write, load with schema checks, quarantine."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analytics.datadir import DataDir
from analytics.schemas import SCHEMAS, SchemaError, TableSchema

# A quarantine file keeps the first QUARANTINE_KEEP refused rows in full and a sample of QUARANTINE_SAMPLE of the
# rest (millions of junk rows must not make a file of hundreds of megabytes); the exact number of refused rows is
# kept in the file's metadata (``quarantine_count``).
QUARANTINE_KEEP = 1000
QUARANTINE_SAMPLE = 1000
_COUNT_KEY = b"chasqui_quarantined"


def table_path(data_dir: Path | str, name: str) -> Path:
    """``DIR/<name>.parquet``; or the folder ``DIR/<name>/`` when the table is stored partitioned
    (e.g. ``orders/order_month=2023-01/part-0.parquet``, see ``write_partitioned``) and no single file exists."""
    return DataDir(Path(data_dir)).table(name)


# --- partitioned tables: one folder per month, read identically by both engines -------------
PARTITION_COLUMN = "order_month"  # hive key: DIR/<table>/order_month=YYYY-MM/part-0.parquet


def table_files(data_dir: Path | str, name: str) -> list[Path]:
    """The Parquet files of a table in reading order (one file, or a partitioned folder's files by path)."""
    path = table_path(data_dir, name)
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
    return [path] if path.exists() else []


def partition_keys(data_dir: Path | str, name: str) -> list[str]:
    """Hive keys (``key=value`` folder names) of a partitioned table; they are not table columns."""
    root = table_path(data_dir, name)
    keys: set[str] = set()
    if root.is_dir():
        for f in table_files(data_dir, name):
            keys.update(part.split("=", 1)[0] for part in f.relative_to(root).parts[:-1] if "=" in part)
    return sorted(keys)


def table_version(data_dir: Path | str, name: str) -> str:
    """Changes whenever any file of the table changes (cache key for engines)."""
    files = table_files(data_dir, name)
    if not files:
        raise FileNotFoundError(f"table {name!r} not found in {data_dir}")
    stats = [f.stat() for f in files]
    return f"{len(files)}:{sum(s.st_size for s in stats)}:{max(s.st_mtime_ns for s in stats)}"


def data_version(data_dir: Path | str, skip: tuple[Path | str, ...] = ()) -> str:
    """Changes whenever any file under the data folder changes (tables, models, ledger, saved scenarios):
    the key for caching results by their inputs. Hidden entries and the ``skip`` folders (the cache
    itself) do not count. A missing folder has its own version."""
    root = Path(data_dir)
    skipped = {Path(s).resolve() for s in skip}
    h = hashlib.sha256()
    if not root.is_dir():
        return "missing"
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in skipped)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            try:
                st = (here / name).stat()
            except FileNotFoundError:  # replaced while we walked: the next call sees the new file
                continue
            h.update(f"{(here / name).relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def read_table_files(data_dir: Path | str, name: str) -> pl.DataFrame:
    """All rows of a table in reading order, without hive key columns (same frame for either layout)."""
    files = table_files(data_dir, name)
    if not files:
        raise FileNotFoundError(f"table {name!r} not found at {table_path(data_dir, name)}")
    if len(files) == 1 and not table_path(data_dir, name).is_dir():
        df = pl.read_parquet(files[0])
    else:
        df = pl.read_parquet(files, hive_partitioning=False)
        df = df.drop([k for k in partition_keys(data_dir, name) if k in df.columns])
    # Files written by Spark store instants as UTC: show them in the schema's zone (Lima by convention)
    schema = SCHEMAS.get(name)
    want = {c.name: c.dtype for c in schema.columns} if schema is not None else {}
    fix = []
    for col, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone == "UTC":
            target = want.get(col)
            tz = getattr(target, "time_zone", None) or ("America/Lima" if target is None else None)
            if tz and tz != "UTC":
                fix.append(pl.col(col).dt.convert_time_zone(tz))
    return df.with_columns(fix) if fix else df


def write_partitioned(df: pl.DataFrame, data_dir: Path | str, name: str, date_column: str = "order_date") -> Path:
    """Write a table as ``DIR/<name>/order_month=YYYY-MM/part-0.parquet`` (one folder per month of
    ``date_column``), replacing ``DIR/<name>.parquet`` and any earlier folder atomically."""
    import uuid

    schema = SCHEMAS.get(name)
    if schema is not None:
        schema.check_structure(df)
    d = Path(data_dir)
    tmp = d / f".{name}.{uuid.uuid4().hex}.tmp"
    month = pl.col(date_column).dt.strftime("%Y-%m").fill_null("__null__")
    keyed = df.with_columns(month.alias(PARTITION_COLUMN))
    for (value,), part in keyed.group_by(PARTITION_COLUMN, maintain_order=True):
        out = tmp / f"{PARTITION_COLUMN}={value}"
        out.mkdir(parents=True, exist_ok=True)
        part.drop(PARTITION_COLUMN).write_parquet(out / "part-0.parquet", compression="zstd", statistics=True)
    return swap_in_partitioned(tmp, d, name)


def swap_in_partitioned(tmp: Path, data_dir: Path | str, name: str) -> Path:
    """Make the folder ``tmp`` the table ``DIR/<name>/``, replacing an earlier folder or single file."""
    import shutil
    import uuid

    d = Path(data_dir)
    final = DataDir(d).table_folder(name)
    old = d / f".{name}.{uuid.uuid4().hex}.old"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    DataDir(d).table_file(name).unlink(missing_ok=True)
    shutil.rmtree(old, ignore_errors=True)
    return final


def quarantine_path(data_dir: Path | str, name: str) -> Path:
    return DataDir(Path(data_dir)).quarantine_file(name)


def has_table(data_dir: Path | str, name: str) -> bool:
    return table_path(data_dir, name).exists()


def list_tables(data_dir: Path | str) -> list[str]:
    d = Path(data_dir)
    if not d.exists():
        return []
    names = {p.stem for p in d.glob("*.parquet")}
    names.update(p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")
                 and any(c.is_dir() and "=" in c.name for c in p.iterdir()))
    return sorted(names)


def write_table(df: pl.DataFrame, data_dir: Path | str, name: str) -> Path:
    """Write a table atomically (temp file + rename), checking its schema when one is known."""
    schema = SCHEMAS.get(name)
    if schema is not None:
        schema.check_structure(df)
    path = DataDir(Path(data_dir)).table_file(name)  # a single file wins over a partitioned folder of the same name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    df.write_parquet(tmp, compression="zstd", statistics=True)
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class LoadResult:
    frame: pl.DataFrame
    rows_read: int
    quarantined: int


def load_table(data_dir: Path | str, name: str, schema: TableSchema | None = None) -> LoadResult:
    """Read a table, check its schema, quarantine rows that break it.

    Raises FileNotFoundError if the table does not exist and SchemaError if its structure is wrong.
    Quarantined rows are written to ``quarantine/<name>.parquet`` with ``row_number`` and ``reason``.
    """
    path = table_path(data_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"table {name!r} not found at {path}")
    df = read_table_files(data_dir, name)
    schema = schema or SCHEMAS.get(name)
    if schema is None:
        return LoadResult(df, df.height, 0)
    good, bad = schema.split(df)
    if bad.height:
        write_quarantine(quarantine_path(data_dir, name), bad)
    return LoadResult(good, df.height, bad.height)


def capped_quarantine(bad: pl.DataFrame) -> pl.DataFrame:
    """The rows a quarantine file keeps: the first QUARANTINE_KEEP, then QUARANTINE_SAMPLE evenly spaced rows of
    the rest (deterministic: the same bad rows give the same file)."""
    if bad.height <= QUARANTINE_KEEP + QUARANTINE_SAMPLE:
        return bad
    rest = bad.height - QUARANTINE_KEEP
    picks = [QUARANTINE_KEEP + (i * rest) // QUARANTINE_SAMPLE for i in range(QUARANTINE_SAMPLE)]
    return pl.concat([bad.head(QUARANTINE_KEEP), bad[picks]])


def write_quarantine_file(qpath: Path, kept: pl.DataFrame, total: int) -> None:
    """Write quarantined rows ``kept`` (at most the cap) atomically, with the exact count ``total`` in the file's
    metadata."""
    import pyarrow.parquet as pq

    qpath.parent.mkdir(parents=True, exist_ok=True)
    tmp = qpath.with_name(f".{qpath.name}.{os.getpid()}.tmp")
    table = kept.to_arrow()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _COUNT_KEY: str(int(total)).encode()})
    pq.write_table(table, tmp)
    os.replace(tmp, qpath)


def _file_count(path: Path) -> int:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(_COUNT_KEY)
    return int(raw) if raw is not None else pq.ParquetFile(path).metadata.num_rows


def quarantine_count(data_dir: Path | str, name: str) -> int:
    """How many rows of table ``name`` were quarantined (on load and by imports), exactly, even where the
    files keep only the first rows and a sample."""
    layout = DataDir(Path(data_dir))
    return sum(_file_count(p) for p in (layout.quarantine_file(name), layout.import_quarantine_file(name))
               if p.exists())


def write_quarantine(qpath: Path, bad: pl.DataFrame) -> None:
    """Write a table's quarantined rows (capped, with the exact count), atomically, unless the file already holds
    exactly these rows: every process loading the same table finds the same bad rows, and rewriting them would
    change the data version (and so throw every cached result away) on each load."""
    kept = capped_quarantine(bad)
    try:
        if qpath.exists() and _file_count(qpath) == bad.height and pl.read_parquet(qpath).equals(kept):
            return
    except (OSError, ValueError, pl.exceptions.PolarsError):
        pass  # unreadable: replace it
    write_quarantine_file(qpath, kept, bad.height)


def read_quarantine(data_dir: Path | str, name: str) -> pl.DataFrame | None:
    """Quarantined rows of a table (from load or import), or None if there are none."""
    layout = DataDir(Path(data_dir))
    frames = []
    for pq in (layout.quarantine_file(name), layout.import_quarantine_file(name)):
        if pq.exists():
            f = pl.read_parquet(pq)
            if f.height:
                frames.append(f.select("row_number", "reason", *[c for c in f.columns
                                                                 if c not in ("row_number", "reason")]))
    if not frames:
        return None
    return pl.concat(frames, how="diagonal_relaxed")


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


__all__ = [
    "PARTITION_COLUMN", "QUARANTINE_KEEP", "QUARANTINE_SAMPLE", "LoadResult", "SchemaError", "capped_quarantine",
    "has_table", "list_tables", "load_table", "partition_keys", "quarantine_count", "quarantine_path",
    "read_quarantine", "write_quarantine", "write_quarantine_file", "read_table_files", "table_files", "table_path", "table_version",
    "write_json", "write_partitioned", "write_table",
]
