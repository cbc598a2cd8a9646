"""Table schemas, checked on load and on import. A row that breaks a schema is quarantined
with its row number and reason, never dropped silently.

``SCHEMAS`` is assembled here, in one place: the core tables defined below, then the sourcing and traceability
tables from their own modules (which import only :mod:`analytics.table_schema`).
"""

from __future__ import annotations

import polars as pl

from analytics.geo import REGION_CODES, SHIPPING_MODES
from analytics.sourcing.schemas import SOURCING_SCHEMAS
from analytics.table_schema import LIMA_TZ, TS, Check, Column, SchemaError, TableSchema
from analytics.traceability.schemas import TRACEABILITY_SCHEMAS


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
    doc="One row per order (line), 2021-10-01 to 2024-12-31 in the demo data",
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

# Every known table, by name.
SCHEMAS: dict[str, TableSchema] = {
    s.name: s for s in (ORDERS, CUSTOMERS, PRODUCTS, REGIONS, DCS, CARRIERS, DISRUPTIONS, *SOURCING_SCHEMAS,
                        *TRACEABILITY_SCHEMAS)
}

__all__ = ["LIMA_TZ", "SCHEMAS", "TS", "Check", "Column", "SchemaError", "TableSchema"]
