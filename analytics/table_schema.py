"""What a table schema is: typed columns with per-row rules, a structure check and the valid/quarantined split.

The registry of every table's schema is :mod:`analytics.schemas`; the per-domain schema modules import only this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

LIMA_TZ = "America/Lima"
TS = pl.Datetime("us", LIMA_TZ)

Check = Callable[[pl.Expr], pl.Expr]


class SchemaError(ValueError):
    """A table is missing columns or has columns of the wrong type (the whole table is unusable)."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType | type[pl.DataType]
    nullable: bool = False
    check: Check | None = None  # returns a boolean expression: True where the value is valid
    rule: str = ""  # human-readable rule, shown on the Data page and in quarantine reasons
    doc: str = ""


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    doc: str = ""
    date_column: str | None = None  # the column the Data page reports a date range for
    extra_columns_allowed: bool = True
    primary_key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def check_structure(self, df: pl.DataFrame | pl.LazyFrame) -> None:
        """Raise SchemaError if a required column is missing or has an incompatible type."""
        schema = df.collect_schema() if isinstance(df, pl.LazyFrame) else df.schema
        missing = [c.name for c in self.columns if c.name not in schema]
        if missing:
            raise SchemaError(f"table {self.name!r} is missing columns: {', '.join(missing)}")
        wrong = []
        for c in self.columns:
            got = schema[c.name]
            if not _compatible(got, c.dtype):
                wrong.append(f"{c.name} is {got}, expected {c.dtype}")
        if wrong:
            raise SchemaError(f"table {self.name!r} has wrong column types: {'; '.join(wrong)}")

    def reason_expr(self) -> pl.Expr:
        """Expression giving, per row, the '; '-joined reasons it breaks the schema (null if valid)."""
        parts: list[pl.Expr] = []
        for c in self.columns:
            col = pl.col(c.name)
            if not c.nullable:
                parts.append(pl.when(col.is_null()).then(pl.lit(f"{c.name}: missing")))
            if c.check is not None:
                ok = c.check(col).fill_null(True)
                parts.append(pl.when(~ok).then(pl.lit(f"{c.name}: {c.rule or 'invalid'}")))
        if not parts:
            return pl.lit(None, dtype=pl.String)
        return pl.concat_str(parts, separator="; ", ignore_nulls=True)

    def split(self, df: pl.DataFrame, row_offset: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Split rows into (valid, quarantined); quarantined rows carry row_number and reason.

        ``row_number`` counts from ``row_offset`` in the order the rows were given.
        """
        self.check_structure(df)
        tagged = df.with_columns(
            pl.int_range(row_offset, row_offset + df.height, dtype=pl.Int64).alias("row_number"),
            self.reason_expr().alias("reason"),
        )
        bad = tagged.filter(pl.col("reason").is_not_null() & (pl.col("reason") != ""))
        good = tagged.filter(pl.col("reason").is_null() | (pl.col("reason") == "")).drop(
            "row_number", "reason"
        )
        return good, bad


def _compatible(got: pl.DataType, want: pl.DataType | type[pl.DataType]) -> bool:
    if got == want:
        return True
    if want in (pl.Float64, pl.Float32) and got.is_numeric():
        return True
    if want in (pl.Int64, pl.Int32) and got.is_integer():
        return True
    if isinstance(want, pl.Datetime) and isinstance(got, pl.Datetime):
        return True
    return False


__all__ = ["LIMA_TZ", "TS", "Check", "Column", "SchemaError", "TableSchema"]
