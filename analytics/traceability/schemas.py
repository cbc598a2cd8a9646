"""Schemas of the traceability tables (``TRACEABILITY_SCHEMAS``; analytics.schemas puts them in ``SCHEMAS``)."""

from __future__ import annotations

import polars as pl

from analytics.table_schema import TS, Column, TableSchema

_HASH_RE = r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$"

TRACE_EVENTS = TableSchema(
    "trace_events",
    (
        Column("event_key", pl.String, doc="Row key of the stored event (EV-... generated, IM-... imported)"),
        Column("seq", pl.Int64, check=lambda c: c >= 1, rule="must be ≥ 1"),
        Column("event_hash", pl.String, check=lambda c: c.str.contains(_HASH_RE),
               rule="GS1 CBV 2.0 event hash ni:///sha-256;<hex>?ver=CBV2.0",
               doc="Event hash computed when the event was stored (anchored in the ledger)"),
        Column("leaf_index", pl.Int64, nullable=True, check=lambda c: c >= 0, rule="must be ≥ 0",
               doc="Position of the event hash in the Merkle log (null = not anchored)"),
        Column("event_type", pl.String, doc="EPCIS event type"),
        Column("biz_step", pl.String, nullable=True, doc="CBV business step (short name)"),
        Column("event_time", TS, doc="When the event happened (America/Lima)"),
        Column("read_point", pl.String, nullable=True, doc="Read point (GS1 Digital Link of the GLN)"),
        Column("source", pl.String, doc="generated, or import:<file name>"),
        Column("document", pl.String, doc="The event as a one-event EPCIS 2.0 JSON-LD document (hashes to event_hash)"),
    ),
    doc="EPCIS 2.0 events of agro lots, each anchored by its CBV 2.0 hash in the Merkle log",
    date_column="event_time",
    primary_key=("event_key",),
)

TRACE_ITEMS = TableSchema(
    "trace_items",
    (
        Column("event_key", pl.String),
        Column("role", pl.String, check=lambda c: c.is_in(
            ["created", "observed", "packed", "unpacked", "parent", "input", "output", "source", "destination"]),
            rule="one of created/observed/packed/unpacked/parent/input/output/source/destination"),
        Column("gtin", pl.String, nullable=True, check=lambda c: c.str.contains(r"^\d{14}$"), rule="14 digits"),
        Column("lot", pl.String, nullable=True),
        Column("sscc", pl.String, nullable=True, check=lambda c: c.str.contains(r"^\d{18}$"), rule="18 digits"),
        Column("quantity_kg", pl.Float64, nullable=True, check=lambda c: c >= 0, rule="must be ≥ 0"),
        Column("party", pl.String, nullable=True, doc="Source/destination (Digital Link of a GLN)"),
    ),
    doc="Lots, pallets and parties each EPCIS event mentions (derived from the events)",
)

TRACE_LOTS = TableSchema(
    "trace_lots",
    (
        Column("lot_code", pl.String),
        Column("gtin", pl.String, check=lambda c: c.str.contains(r"^0775\d{10}$"), rule="GTIN-14 under GS1 Perú (775)"),
        Column("crop", pl.String),
        Column("product_es", pl.String),
        Column("product_en", pl.String),
        Column("region", pl.String, doc="ISO 3166-2:PE of the farm or plant"),
        Column("site_gln", pl.String, check=lambda c: c.str.contains(r"^\d{13}$"), rule="13-digit GLN"),
        Column("site_name", pl.String),
        Column("senasa_code", pl.String, nullable=True, doc="SENASA production-site code (harvest lots)"),
        Column("created_date", pl.Date),
        Column("quantity_kg", pl.Float64, check=lambda c: c > 0, rule="must be > 0"),
        Column("kind", pl.String, check=lambda c: c.is_in(["harvest", "transformed"]), rule="harvest or transformed"),
    ),
    doc="Agro lots (blueberries, avocados, grapes, asparagus, mango, coffee, cacao, quinoa)",
    primary_key=("gtin", "lot_code"),
)

TRACE_QUALITY = TableSchema(
    "trace_quality",
    (
        Column("shipment_id", pl.String, doc="<lot>><destination port>#<n>: the lot's n-th loading for a buyer"),
        Column("lot_code", pl.String),
        Column("gtin", pl.String, check=lambda c: c.str.contains(r"^0775\d{10}$"), rule="GTIN-14 under GS1 Perú (775)"),
        Column("product", pl.String, doc="Crop key with a kinetic model (analytics.shelflife.kinetics)"),
        Column("buyer_gln", pl.String, check=lambda c: c.str.contains(r"^\d{13}$"), rule="13-digit GLN"),
        Column("route", pl.String, doc="<origin>-<destination>-<mode> (UN/LOCODEs)"),
        Column("ca", pl.Boolean, doc="Controlled-atmosphere container on the voyage"),
        Column("harvest_time", TS),
        Column("departure_time", TS, doc="The vessel's departure (departing event)"),
        Column("arrival_time", TS, doc="Received at the buyer (receiving event)"),
        Column("transit_days", pl.Float64, check=lambda c: c > 0, rule="must be > 0", doc="Harvest to arrival"),
        Column("voyage_days", pl.Float64, check=lambda c: c > 0, rule="must be > 0", doc="Departure to the port abroad"),
        Column("readings", pl.Int64, check=lambda c: c >= 0, rule="must be ≥ 0",
               doc="Temperature readings of the shipment's history the truth integrated"),
        Column("shelf_life_at_harvest_days", pl.Float64, check=lambda c: c > 0, rule="must be > 0"),
        Column("consumed_days", pl.Float64, check=lambda c: c >= 0, rule="must be ≥ 0"),
        Column("remaining_days", pl.Float64, check=lambda c: c >= 0, rule="must be ≥ 0",
               doc="Remaining shelf life at arrival (the ground truth, analytics.shelflife.truth)"),
        Column("grade", pl.String, check=lambda c: c.is_in(["A", "B", "C", "D"]), rule="A, B, C or D"),
        Column("world_seed", pl.Int64, doc="Seed of the world's true kinetic parameters (trace_world.json)"),
    ),
    doc="Quality at arrival of every demo shipment received by its buyer, drawn from the kinetic truth model "
        "with the shipment's own temperature readings",
    date_column="arrival_time",
    primary_key=("shipment_id",),
)

TRACEABILITY_SCHEMAS: tuple[TableSchema, ...] = (TRACE_EVENTS, TRACE_ITEMS, TRACE_LOTS, TRACE_QUALITY)
