"""Schemas of the sourcing tables (``SOURCING_SCHEMAS``; analytics.schemas puts them in ``SCHEMAS``)."""

from __future__ import annotations

import polars as pl

from analytics.geo import REGION_CODES
from analytics.sourcing.ingredients import INGREDIENT_IDS, MODES
from analytics.table_schema import Column, TableSchema


def _nonneg(c: pl.Expr) -> pl.Expr:
    return c >= 0


def _pct(c: pl.Expr) -> pl.Expr:
    return (c >= 0) & (c <= 100)


def _unit(c: pl.Expr) -> pl.Expr:
    return (c >= 0) & (c <= 1)


SOURCING_INGREDIENTS = TableSchema(
    "sourcing_ingredients",
    (
        Column("ingredient_id", pl.String),
        Column("name_es", pl.String),
        Column("name_en", pl.String),
        Column("category", pl.String),
        Column("perishable", pl.Boolean, doc="Needs the cold chain (reefer truck or air)"),
        Column("origin_regions", pl.String, doc="Comma-separated ISO codes of its real origins"),
        Column("dop_regions", pl.String, doc="Comma-separated ISO codes covered by a denominación de origen"),
        Column("reference_price_pen_kg", pl.Float64, check=_nonneg, rule="must be ≥ 0"),
    ),
    doc="Ingredients of a Lima tasting menu and their real Peruvian origins",
    primary_key=("ingredient_id",),
)

SOURCING_SUPPLIERS = TableSchema(
    "sourcing_suppliers",
    (
        Column("supplier_id", pl.String),
        Column("name", pl.String),
        Column("ingredient_id", pl.String, check=lambda c: c.is_in(INGREDIENT_IDS), rule="known ingredient"),
        Column("variety", pl.String),
        Column("region", pl.String, check=lambda c: c.is_in(REGION_CODES), rule="ISO 3166-2:PE code"),
        Column("locality", pl.String),
        Column("lat", pl.Float64, check=lambda c: (c >= -18.5) & (c <= 0.0), rule="latitude inside Peru"),
        Column("lon", pl.Float64, check=lambda c: (c >= -81.5) & (c <= -68.5), rule="longitude inside Peru"),
        Column("certifications", pl.String, doc="Comma-separated certification ids (may be empty)"),
        Column("practices", pl.String, doc="Comma-separated practice ids"),
        Column("is_coop", pl.Boolean, doc="Smallholder cooperative or association"),
        Column("women_led", pl.Boolean, doc="Women lead the organisation or hold most seats on its board"),
        Column("fair_price_premium", pl.Boolean, doc="Pays producers a documented premium over market"),
        Column("transport_mode", pl.String, check=lambda c: c.is_in(MODES), rule=f"one of {', '.join(MODES)}"),
        Column("road_km", pl.Float64, check=_nonneg, rule="must be ≥ 0"),
        Column("river_km", pl.Float64, check=_nonneg, rule="must be ≥ 0"),
        Column("air_km", pl.Float64, check=_nonneg, rule="must be ≥ 0"),
        Column("distance_km", pl.Float64, check=_nonneg, rule="must be ≥ 0", doc="road + river + air km to Lima"),
        Column("price_pen_kg", pl.Float64, check=lambda c: (c > 0) & c.is_finite(), rule="must be > 0"),
        Column("quality_score", pl.Float64, check=_pct, rule="must be 0–100"),
        Column("lead_time_days", pl.Int64, check=lambda c: c >= 1, rule="must be ≥ 1"),
        Column("capacity_kg_month", pl.Float64, check=lambda c: c > 0, rule="must be > 0"),
        Column("audit_environment", pl.Float64, nullable=True, check=_pct, rule="must be 0–100"),
        Column("audit_labour", pl.Float64, nullable=True, check=_pct, rule="must be 0–100"),
        Column("audit_traceability", pl.Float64, nullable=True, check=_pct, rule="must be 0–100"),
        Column("audit_completeness", pl.Float64, check=_unit, rule="must be 0–1",
               doc="Share of the three audit sections completed"),
        Column("deliveries_12m", pl.Int64, check=lambda c: c >= 1, rule="must be ≥ 1"),
        Column("late_deliveries_12m", pl.Int64, check=_nonneg, rule="must be ≥ 0"),
        Column("on_time_rate", pl.Float64, check=_unit, rule="must be 0–1"),
        Column("region_on_time_rate", pl.Float64, check=_unit, rule="must be 0–1",
               doc="On-time share of orders in the supplier's region and mode (orders table), or the prior"),
        Column("on_time_source", pl.String, doc="orders (from the orders table) or prior (no orders there)"),
        Column("is_incumbent", pl.Boolean, doc="The kitchen's current supplier of this ingredient"),
    ),
    doc="Synthetic suppliers of gourmet Peruvian ingredients (real origins), for the Sourcing page",
    primary_key=("supplier_id",),
)

SOURCING_SCHEMAS: tuple[TableSchema, ...] = (SOURCING_INGREDIENTS, SOURCING_SUPPLIERS)
