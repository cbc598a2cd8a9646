"""The Data page's table list: rows and date ranges from the Parquet footers equal a full scan of the tables."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import polars as pl

from analytics import storage
from analytics.data_inventory import table_catalog
from analytics.schemas import SCHEMAS


def _scanned(data_dir: Path) -> dict[str, tuple[int, str | None, str | None]]:
    """rows, min and max of each table's date column, read the slow way (every row)."""
    out = {}
    for name in storage.list_tables(data_dir):
        df = pl.read_parquet(storage.table_path(data_dir, name))
        col = SCHEMAS[name].date_column if name in SCHEMAS else None
        lo = hi = None
        if col and col in df.columns and df[col].drop_nulls().len():
            lo, hi = str(df[col].min()), str(df[col].max())
        out[name] = (df.height, lo, hi)
    return out


def test_catalog_rows_and_date_ranges_equal_a_full_scan(demo_dir: Path):
    got = {t["table"]: (t["rows"], t["date_min"], t["date_max"]) for t in table_catalog(demo_dir)}
    assert got == _scanned(demo_dir)
    assert got["orders"][0] == 60_000 and got["orders"][1] < got["orders"][2]


def test_footers_without_statistics_and_several_row_groups(demo_dir: Path, tmp_path: Path):
    """A file written without statistics is scanned instead; bounds span every row group."""
    d = tmp_path / "data"
    d.mkdir()
    for name in ("orders", "customers", "disruptions"):
        shutil.copy(storage.table_path(demo_dir, name), d)
    orders = pl.read_parquet(d / "orders.parquet")
    orders.write_parquet(d / "orders.parquet", row_group_size=7_000)  # 9 row groups
    customers = pl.read_parquet(d / "customers.parquet")
    customers.write_parquet(d / "customers.parquet", statistics=False)
    got = {t["table"]: (t["rows"], t["date_min"], t["date_max"]) for t in table_catalog(d)}
    assert got == _scanned(d)
    assert got["orders"] == (60_000, str(orders["order_date"].min()), str(orders["order_date"].max()))


def test_timezone_aware_date_column_is_shown_in_its_zone(tmp_path: Path, monkeypatch):
    """Parquet statistics of a timestamp are UTC instants: the range is shown in the column's own zone, as a
    scan shows it."""
    from analytics import data_inventory
    from analytics.table_schema import TableSchema

    lima = pl.Series("at", [datetime(2024, 1, 1, 0, 30), datetime(2024, 3, 5, 23, 10)]).dt.replace_time_zone(
        "America/Lima")
    pl.DataFrame({"at": lima, "day": [date(2024, 1, 1), None]}).write_parquet(tmp_path / "events.parquet")
    schema = TableSchema(name="events", columns=(), doc="", date_column="at")
    monkeypatch.setitem(data_inventory.SCHEMAS, "events", schema)
    (entry,) = table_catalog(tmp_path)
    assert (entry["rows"], entry["date_min"], entry["date_max"]) == (
        2, "2024-01-01 00:30:00-05:00", "2024-03-05 23:10:00-05:00")
