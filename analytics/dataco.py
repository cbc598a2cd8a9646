"""Import the public DataCo "Smart Supply Chain" CSV onto Chasqui's tables.

Every data row ends up either imported or quarantined (with its 1-based data-row number and the
reason); the command prints ``{"rows_in": N, "imported": A, "quarantined": Q, "quarantine_file": ...}``
with ``A + Q == N``. Non-Peru geography is kept as it is (country and state as given); Peruvian
rows are keyed by ISO 3166-2:PE. DataCo amounts are US dollars: they are converted to soles at
``fx_usd_pen`` (an explicit, documented rate). DataCo timestamps carry no zone and are read as
Lima local time. Columns that leak the outcome (delivery status, real shipping days, order status,
shipping date) are imported for reference (``actual_days``/``is_late`` are the outcome) and never
used as model features.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from analytics import geo, storage
from analytics.datadir import DataDir
from analytics.demo_orders import reference_tables
from analytics.schemas import LIMA_TZ

REQUIRED = (
    "Order Id", "Order Customer Id", "order date (DateOrders)", "Order Country", "Order State", "Order City",
    "Category Name", "Product Card Id", "Order Item Quantity", "Sales", "Shipping Mode",
    "Days for shipping (real)", "Days for shipment (scheduled)",
)
OPTIONAL = (
    "Order Item Id", "Order Item Discount Rate", "Customer Segment", "Customer City", "Customer State",
    "Customer Country", "Customer Id", "Product Name", "Product Price", "Market", "Order Region",
    "Delivery Status", "Order Status", "Late_delivery_risk", "Type", "Department Name",
)
SHIPPING_MODE_MAP = {"standard class": "standard", "second class": "standard", "first class": "express",
                     "same day": "express"}
SEGMENT_MAP = {"consumer": "consumer", "corporate": "corporate", "home office": "home_office"}
PERU_NAMES = {"peru", "perú", "pe", "republica del peru", "república del perú"}
DATE_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")
DELIMITERS = (",", ";", "\t", "|")


def _fold(text: str) -> str:
    """Lower-case, accents removed: 'Junín' -> 'junin'."""
    norm = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in norm if not unicodedata.combining(ch))


_PE_ALIASES = {_fold(r.name): r.code for r in geo.REGIONS}
_PE_ALIASES.update({_fold(r.capital): r.code for r in geo.REGIONS})
_PE_ALIASES.update({"cuzco": "PE-CUS", "lima metropolitana": "PE-LIM", "lima provincias": "PE-LIM",
                    "municipalidad metropolitana de lima": "PE-LIM",
                    "provincia constitucional del callao": "PE-CAL", "ancash": "PE-ANC"})


def peru_region(state: str) -> str | None:
    """ISO 3166-2:PE code for a Peruvian department name (accent- and case-insensitive)."""
    return _PE_ALIASES.get(_fold(state))


@dataclass
class ImportResult:
    rows_in: int
    imported: int
    quarantined: int
    quarantine_file: str | None
    encoding: str
    delimiter: str
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows_in": self.rows_in, "imported": self.imported,
                               "quarantined": self.quarantined, "quarantine_file": self.quarantine_file,
                               "encoding": self.encoding, "delimiter": self.delimiter}
        if self.error:
            out["error"] = self.error
        return out


def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _pick_delimiter(header_line: str) -> str:
    best, score = ",", -1
    for d in DELIMITERS:
        names = {c.strip() for c in next(csv.reader([header_line], delimiter=d), [])}
        s = sum(1 for c in REQUIRED + OPTIONAL if c in names)
        if s > score:
            best, score = d, s
    return best


def _parse_ts(value: str) -> datetime:
    v = value.strip()
    for f in DATE_FORMATS:
        try:
            return datetime.strptime(v, f)
        except ValueError:
            continue
    raise ValueError(f"unparseable date {value!r} (expected like 1/31/2018 22:56)")


def _num(value: str, field: str) -> float:
    try:
        x = float(value.strip())
    except ValueError:
        raise ValueError(f"{field}: not a number ({value!r})") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{field}: not a finite number ({value!r})")
    return x


def _int(value: str, field: str) -> int:
    x = _num(value, field)
    if x != int(x):
        raise ValueError(f"{field}: not a whole number ({value!r})")
    return int(x)


def _quantity_and_sales(rec: dict[str, str]) -> tuple[int, float]:
    qty = _int(rec["Order Item Quantity"], "Order Item Quantity")
    if qty < 1:
        raise ValueError(f"Order Item Quantity: must be ≥ 1 ({qty})")
    sales = _num(rec["Sales"], "Sales")
    if sales < 0:
        raise ValueError(f"Sales: negative amount ({sales})")
    return qty, sales


def _shipping_days(rec: dict[str, str]) -> tuple[int, int]:
    """(real, scheduled) days for shipping."""
    real = _int(rec["Days for shipping (real)"], "Days for shipping (real)")
    sched = _int(rec["Days for shipment (scheduled)"], "Days for shipment (scheduled)")
    if real < 0 or sched < 0:
        raise ValueError("shipping days: negative")
    return real, sched


def _shipping_mode(rec: dict[str, str]) -> tuple[str, str]:
    """(Chasqui mode, DataCo's original class)."""
    mode_raw = rec["Shipping Mode"].strip()
    mode = SHIPPING_MODE_MAP.get(mode_raw.lower())
    if mode is None:
        raise ValueError(f"Shipping Mode: unknown ({mode_raw!r})")
    return mode, mode_raw


def _discount_pct(rec: dict[str, str]) -> float:
    disc_raw = rec.get("Order Item Discount Rate", "").strip()
    disc = _num(disc_raw, "Order Item Discount Rate") * 100.0 if disc_raw else 0.0
    if not 0 <= disc <= 100:
        raise ValueError(f"Order Item Discount Rate: out of range ({disc_raw})")
    return disc


def _destination(rec: dict[str, str]) -> tuple[str, str]:
    """(country, region): in Peru the department's ISO code (a state that is not a department is refused);
    elsewhere the country and state as they are."""
    country_raw = rec["Order Country"].strip()
    state = rec["Order State"].strip()
    if _fold(country_raw) in PERU_NAMES:
        region = peru_region(state)
        if region is None:
            raise ValueError(f"Order State: {state!r} is not a department of Peru")
        return "PE", region
    if not country_raw:
        raise ValueError("Order Country: missing")
    return country_raw, state or country_raw


def _row(rec: dict[str, str], fx: float) -> dict[str, Any]:
    """Map one DataCo record to an orders row; raises ValueError with the reason (the first check that fails:
    ids, date, quantity and sales, shipping days, mode, discount, destination)."""
    for key in ("Order Id", "Order Customer Id", "Product Card Id"):
        if not rec.get(key, "").strip():
            raise ValueError(f"{key}: missing id")
    created = _parse_ts(rec["order date (DateOrders)"])
    qty, sales = _quantity_and_sales(rec)
    real, sched = _shipping_days(rec)
    mode, mode_raw = _shipping_mode(rec)
    disc = _discount_pct(rec)
    country, region = _destination(rec)
    item = rec.get("Order Item Id", "").strip()
    return {
        "order_id": f"{rec['Order Id'].strip()}-{item}" if item else rec["Order Id"].strip(),
        "order_ref": rec["Order Id"].strip(),
        "customer_id": rec["Order Customer Id"].strip(),
        "created_at": created,
        "country": country,
        "region": region,
        "city": rec["Order City"].strip(),
        "category": rec["Category Name"].strip(),
        "product_id": rec["Product Card Id"].strip(),
        "quantity": qty,
        "amount_pen": round(sales * fx, 2),
        "discount_pct": round(disc, 2),
        "shipping_mode": mode,
        "carrier": mode_raw,
        "origin_dc": rec.get("Market", "").strip() or "unknown",
        "distance_km": None,
        "weight_kg": None,
        "shipping_cost_pen": None,
        "promised_days": sched,
        "actual_days": real,
        "is_late": real > sched,
        "market": rec.get("Market", "").strip(),
        "order_region": rec.get("Order Region", "").strip(),
        "payment_type": rec.get("Type", "").strip(),
        "delivery_status": rec.get("Delivery Status", "").strip(),
        "order_status": rec.get("Order Status", "").strip(),
        # customer and product facts, split into their own tables below
        "_segment": SEGMENT_MAP.get(rec.get("Customer Segment", "").strip().lower(), "consumer"),
        "_cust_city": rec.get("Customer City", "").strip(),
        "_cust_state": rec.get("Customer State", "").strip(),
        "_cust_country": rec.get("Customer Country", "").strip(),
        "_product_name": rec.get("Product Name", "").strip() or rec["Product Card Id"].strip(),
        "_product_price": rec.get("Product Price", "").strip(),
    }


def import_dataco(path: Path | str, data_dir: Path | str, fx_usd_pen: float = 3.30) -> ImportResult:
    """Import a DataCo CSV into ``data_dir`` (replacing its orders, customers and products)."""
    path, data_dir = Path(path), Path(data_dir)
    if fx_usd_pen <= 0:
        raise ValueError("--fx-usd-pen must be positive")
    raw = path.read_bytes()
    text, encoding = _decode(raw)
    layout = DataDir(data_dir)
    qdir = layout.quarantine
    qfile = layout.dataco_rejects
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ImportResult(0, 0, 0, None, encoding, ",", error="empty file: no header and no rows")
    delimiter = _pick_delimiter(lines[0])
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    missing = [c for c in REQUIRED if c not in header]
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, fields in enumerate(reader, start=1):
        if not any(f.strip() for f in fields):
            bad.append({"row_number": n, "reason": "empty row", "raw": delimiter.join(fields)})
            continue
        if missing:
            bad.append({"row_number": n, "reason": "header lacks required columns: " + ", ".join(missing)
                        + " (wrong delimiter or not a DataCo file?)", "raw": delimiter.join(fields)})
            continue
        if len(fields) != len(header):
            bad.append({"row_number": n, "reason": f"expected {len(header)} fields, got {len(fields)}",
                        "raw": delimiter.join(fields)})
            continue
        rec = dict(zip(header, fields))
        try:
            row = _row(rec, fx_usd_pen)
        except ValueError as exc:
            bad.append({"row_number": n, "reason": str(exc), "raw": delimiter.join(fields)})
            continue
        if row["order_id"] in seen:
            bad.append({"row_number": n, "reason": f"duplicate order line {row['order_id']}",
                        "raw": delimiter.join(fields)})
            continue
        seen.add(row["order_id"])
        good.append(row)
    rows_in = len(good) + len(bad)
    qdir.mkdir(parents=True, exist_ok=True)
    with qfile.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["row_number", "reason", "raw"])
        w.writeheader()
        w.writerows(bad)
    qframe = pl.DataFrame(bad, schema={"row_number": pl.Int64, "reason": pl.String, "raw": pl.String})
    qframe.write_parquet(layout.import_quarantine_file("orders"))
    if good:
        _write_tables(good, data_dir, fx_usd_pen)
    error = None
    if missing:
        error = "header lacks required columns: " + ", ".join(missing)
    return ImportResult(rows_in, len(good), len(bad), str(qfile), encoding, delimiter, error)


def _write_tables(rows: list[dict[str, Any]], data_dir: Path, fx: float) -> None:
    df = pl.DataFrame(rows, infer_schema_length=None)
    df = df.with_columns(
        pl.col("created_at").dt.replace_time_zone(LIMA_TZ).dt.cast_time_unit("us"),
        pl.col("quantity").cast(pl.Int64), pl.col("promised_days").cast(pl.Int64),
        pl.col("actual_days").cast(pl.Int64),
        pl.col("distance_km").cast(pl.Float64), pl.col("weight_kg").cast(pl.Float64),
        pl.col("shipping_cost_pen").cast(pl.Float64),
    ).with_columns(pl.col("created_at").dt.date().alias("order_date")).sort("created_at", "order_id")
    customers = (
        df.group_by("customer_id", maintain_order=True).agg(
            pl.col("_cust_state").first(), pl.col("_cust_city").first(), pl.col("_cust_country").first(),
            pl.col("_segment").first(), pl.col("order_date").min().alias("signup_date"))
        .with_columns(
            pl.struct("_cust_country", "_cust_state").map_elements(
                lambda s: (peru_region(s["_cust_state"]) or s["_cust_state"])
                if _fold(s["_cust_country"]) in PERU_NAMES else (s["_cust_state"] or s["_cust_country"]),
                return_dtype=pl.String).alias("region"))
        .select(pl.col("customer_id"), pl.col("region"), pl.col("_cust_city").alias("city"),
                pl.col("_segment").alias("segment"), pl.col("signup_date"),
                pl.lit(None, dtype=pl.String).alias("archetype"))
    )
    products = (
        df.group_by("product_id", maintain_order=True).agg(
            pl.col("_product_name").first().alias("name"), pl.col("category").first(),
            pl.col("_product_price").first().alias("price_raw"))
        .with_columns((pl.col("price_raw").cast(pl.Float64, strict=False).fill_null(0.0) * fx).round(2)
                      .alias("unit_price_pen"), pl.lit(None, dtype=pl.Float64).alias("weight_kg"))
        .drop("price_raw")
    )
    orders = df.drop([c for c in df.columns if c.startswith("_")])
    lead = ["order_id", "customer_id", "created_at", "order_date", "country", "region", "city", "category",
            "product_id", "quantity", "amount_pen", "discount_pct", "shipping_mode", "carrier", "origin_dc",
            "distance_km", "weight_kg", "shipping_cost_pen", "promised_days", "actual_days", "is_late"]
    orders = orders.select(lead + [c for c in orders.columns if c not in lead])
    for name, ref in reference_tables().items():
        if not storage.has_table(data_dir, name):
            storage.write_table(ref, data_dir, name)
    storage.write_table(orders, data_dir, "orders")
    storage.write_table(customers, data_dir, "customers")
    storage.write_table(products, data_dir, "products")


def cli(args: argparse.Namespace) -> int:
    try:
        result = import_dataco(args.file, args.data_dir, fx_usd_pen=getattr(args, "fx_usd_pen", 3.30))
    except FileNotFoundError:
        print(json.dumps({"rows_in": 0, "imported": 0, "quarantined": 0, "quarantine_file": None,
                          "error": f"file not found: {args.file}"}))
        return 2
    print(json.dumps(result.as_json(), ensure_ascii=False))
    return 1 if result.error else 0
