"""Table schemas, checked on load and on import. A row that breaks a schema is quarantined
with its row number and reason, never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from analytics.geo import REGION_CODES, SHIPPING_MODES

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


def _nonneg(c: pl.Expr) -> pl.Expr:
    return c >= 0


def _finite(c: pl.Expr) -> pl.Expr:
    return c.is_finite()


ORDERS = TableSchema(
    "orders",
    (
        Column("order_id", pl.String, doc="Order identifier"),
        Column("customer_id", pl.String, doc="Customer identifier"),
        Column("created_at", TS, doc="When the order was placed (America/Lima)"),
        Column("order_date", pl.Date, doc="Lima calendar date of created_at"),
        Column("country", pl.String, doc="Country (ISO alpha-2 for Peru: PE; imports keep their own)"),
        Column("region", pl.String, doc="ISO 3166-2:PE code for Peru; the source's state/region elsewhere"),
        Column("city", pl.String),
        Column("category", pl.String),
        Column("product_id", pl.String),
        Column("quantity", pl.Int64, check=lambda c: c >= 1, rule="must be ≥ 1"),
        Column("amount_pen", pl.Float64, check=lambda c: (c >= 0) & c.is_finite(), rule="must be ≥ 0"),
        Column("discount_pct", pl.Float64, check=lambda c: (c >= 0) & (c <= 100), rule="must be 0–100"),
        Column("shipping_mode", pl.String, check=lambda c: c.is_in(SHIPPING_MODES),
               rule=f"must be one of {', '.join(SHIPPING_MODES)}"),
        Column("carrier", pl.String),
        Column("origin_dc", pl.String),
        Column("distance_km", pl.Float64, nullable=True, check=_nonneg, rule="must be ≥ 0"),
        Column("weight_kg", pl.Float64, nullable=True, check=_nonneg, rule="must be ≥ 0"),
        Column("shipping_cost_pen", pl.Float64, nullable=True, check=_nonneg, rule="must be ≥ 0"),
        Column("promised_days", pl.Int64, check=_nonneg, rule="must be ≥ 0"),
        Column("actual_days", pl.Int64, nullable=True, check=_nonneg, rule="must be ≥ 0"),
        Column("is_late", pl.Boolean, nullable=True),
    ),
    doc="One row per order (line), 2022-01-01 to 2024-12-31 in the demo data",
    date_column="order_date",
    primary_key=("order_id",),
)

CUSTOMERS = TableSchema(
    "customers",
    (
        Column("customer_id", pl.String),
        Column("region", pl.String),
        Column("city", pl.String),
        Column("segment", pl.String, doc="consumer / corporate / home_office"),
        Column("signup_date", pl.Date, nullable=True),
        Column("archetype", pl.String, nullable=True,
               doc="Planted behavioural archetype (demo data only; ground truth for segmentation)"),
    ),
    doc="One row per customer",
    date_column="signup_date",
    primary_key=("customer_id",),
)

PRODUCTS = TableSchema(
    "products",
    (
        Column("product_id", pl.String),
        Column("name", pl.String),
        Column("category", pl.String),
        Column("unit_price_pen", pl.Float64, check=_nonneg, rule="must be ≥ 0"),
        Column("weight_kg", pl.Float64, nullable=True, check=_nonneg, rule="must be ≥ 0"),
    ),
    doc="Product catalogue",
    primary_key=("product_id",),
)

REGIONS = TableSchema(
    "regions",
    (
        Column("code", pl.String, check=lambda c: c.is_in(REGION_CODES), rule="ISO 3166-2:PE code"),
        Column("name", pl.String),
        Column("capital", pl.String),
        Column("lat", pl.Float64, check=_finite, rule="finite"),
        Column("lon", pl.Float64, check=_finite, rule="finite"),
        Column("natural_region", pl.String, check=lambda c: c.is_in(["costa", "sierra", "selva"]),
               rule="costa/sierra/selva"),
        Column("population", pl.Int64, check=_nonneg),
        Column("altitude_m", pl.Int64),
    ),
    doc="The 24 departments of Peru plus Callao (real facts)",
    primary_key=("code",),
)

DCS = TableSchema(
    "dcs",
    (
        Column("dc_id", pl.String),
        Column("city", pl.String),
        Column("region", pl.String),
        Column("lat", pl.Float64),
        Column("lon", pl.Float64),
        Column("road_link", pl.Boolean),
    ),
    doc="Distribution centres",
    primary_key=("dc_id",),
)

CARRIERS = TableSchema(
    "carriers",
    (
        Column("carrier", pl.String),
        Column("modes", pl.String, doc="Comma-separated shipping modes offered"),
    ),
    doc="Carriers (fictional names) and the modes they run",
    primary_key=("carrier",),
)

DISRUPTIONS = TableSchema(
    "disruptions",
    (
        Column("episode", pl.String),
        Column("kind", pl.String),
        Column("start", pl.Date),
        Column("end", pl.Date),
        Column("regions", pl.String, doc="Comma-separated ISO codes"),
        Column("description", pl.String),
    ),
    doc="Real disruption episodes (public record): what happened where and when",
    date_column="start",
)

# Every known table. Page issues add their own schemas here (one entry each).
SCHEMAS: dict[str, TableSchema] = {
    s.name: s for s in (ORDERS, CUSTOMERS, PRODUCTS, REGIONS, DCS, CARRIERS, DISRUPTIONS)
}


def register(schema: TableSchema) -> TableSchema:
    """Add a table schema to the registry (used by modules that own extra tables)."""
    SCHEMAS[schema.name] = schema
    return schema


import analytics.sourcing.schemas  # noqa: E402,F401  (registers the sourcing tables, issue 8)
import analytics.traceability.schemas  # noqa: E402,F401  (registers the traceability tables, issue 7)
