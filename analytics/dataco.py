"""Import the public DataCo "Smart Supply Chain" CSV onto Chasqui's tables.

Every data row ends up either imported or quarantined (with its 1-based data-row number and the
reason); the command prints ``{"rows_in": N, "imported": A, "quarantined": Q, "quarantine_file": ...}``
with ``A + Q == N``. The file is read as a stream (a small file of millions of junk rows costs no more memory
than a few thousand): the counts are exact, the quarantine files keep the first refused rows in full and a
sample of the rest (``storage.QUARANTINE_KEEP``, ``storage.QUARANTINE_SAMPLE``). Non-Peru geography is kept as it is (country and state as given); Peruvian
rows are keyed by ISO 3166-2:PE. DataCo amounts are US dollars: they are converted to soles at
``fx_usd_pen`` (an explicit, documented rate). DataCo timestamps carry no zone and are read as
Lima local time. Columns that leak the outcome (delivery status, real shipping days, order status,
shipping date) are imported for reference (``actual_days``/``is_late`` are the outcome) and never
used as model features.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import unicodedata
from collections.abc import Iterator
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
    quarantine_rows_kept: int = 0  # rows written to the quarantine files (all of them, or the first + a sample)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows_in": self.rows_in, "imported": self.imported,
                               "quarantined": self.quarantined, "quarantine_file": self.quarantine_file,
                               "quarantine_rows_kept": self.quarantine_rows_kept,
                               "quarantine_sampled": self.quarantine_rows_kept < self.quarantined,
                               "encoding": self.encoding, "delimiter": self.delimiter}
        if self.error:
            out["error"] = self.error
        return out


MAX_FIELD_CHARS = 1_000_000  # a longer field is refused with its row (the csv module's own limit is 131,072)
GOOD_CHUNK_ROWS = 50_000  # accepted rows are turned into a compact Polars frame every this many


def _encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as UTF-8, else Latin-1; read in chunks."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _records(fh: Any, delimiter: str) -> Iterator[list[str] | csv.Error]:
    """The CSV records of ``fh`` (after the header), a malformed one as its ``csv.Error``."""
    reader = csv.reader(fh, delimiter=delimiter)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc


class _Refused:
    """Refused rows: the exact count, the first ``storage.QUARANTINE_KEEP`` in full and a seeded reservoir sample
    of ``storage.QUARANTINE_SAMPLE`` of the rest (the same sample for the same file). Raw text is shortened."""

    RAW_CHARS = 2_000

    def __init__(self) -> None:
        import random

        self.count = 0
        self.first: list[dict[str, Any]] = []
        self.sample: list[dict[str, Any]] = []
        self._rng = random.Random(0)

    def add(self, n: int, reason: str, raw: str) -> None:
        self.count += 1
        if len(raw) > self.RAW_CHARS:
            raw = raw[:self.RAW_CHARS] + f"… [{len(raw)} characters, shortened]"
        rec = {"row_number": n, "reason": reason[:500], "raw": raw}
        if len(self.first) < storage.QUARANTINE_KEEP:
            self.first.append(rec)
            return
        past = self.count - storage.QUARANTINE_KEEP  # rows seen past the first ones, this one included
        if len(self.sample) < storage.QUARANTINE_SAMPLE:
            self.sample.append(rec)
        else:
            j = self._rng.randrange(past)
            if j < storage.QUARANTINE_SAMPLE:
                self.sample[j] = rec

    def rows(self) -> list[dict[str, Any]]:
        return self.first + sorted(self.sample, key=lambda r: r["row_number"])


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
    """Import a DataCo CSV into ``data_dir`` (replacing its orders, customers and products), reading it as a
    stream: memory stays bounded whatever the number of rows, the counts are exact and the quarantine files
    are capped (see the module docstring)."""
    path, data_dir = Path(path), Path(data_dir)
    if fx_usd_pen <= 0:
        raise ValueError("--fx-usd-pen must be positive")
    encoding = _encoding(path)
    layout = DataDir(data_dir)
    qfile = layout.dataco_rejects
    csv.field_size_limit(MAX_FIELD_CHARS)
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else "latin-1", newline="") as fh:
        header_line = ""
        for header_line in fh:
            if header_line.strip():
                break
        if not header_line.strip():
            return ImportResult(0, 0, 0, None, encoding, ",", error="empty file: no header and no rows")
        delimiter = _pick_delimiter(header_line)
        records = _records(itertools.chain([header_line], fh), delimiter)
        first = next(records)
        header = [h.strip() for h in first] if isinstance(first, list) else []
        missing = [c for c in REQUIRED if c not in header]
        refused, good, frames = _Refused(), [], []
        seen: set[str] = set()
        blank: list[int] = []  # a run of whitespace-only lines: refused unless they end the file
        for n, fields in enumerate(records, start=1):
            if isinstance(fields, list) and not "".join(fields).strip() and len(fields) <= 1:
                blank.append(n)
                if len(blank) > 1:
                    blank[1:] = [n]  # only the run's first and last numbers are needed
                continue
            if blank:
                for m in range(blank[0], blank[-1] + 1):
                    refused.add(m, "empty row", "")
                blank = []
            if isinstance(fields, csv.Error):
                refused.add(n, f"malformed CSV row: {fields}", "")
                continue
            raw = delimiter.join(fields)
            if not any(f.strip() for f in fields):
                refused.add(n, "empty row", raw)
                continue
            if missing:
                refused.add(n, "header lacks required columns: " + ", ".join(missing)
                            + " (wrong delimiter or not a DataCo file?)", raw)
                continue
            if len(fields) != len(header):
                refused.add(n, f"expected {len(header)} fields, got {len(fields)}", raw)
                continue
            try:
                row = _row(dict(zip(header, fields)), fx_usd_pen)
            except ValueError as exc:
                refused.add(n, str(exc), raw)
                continue
            if row["order_id"] in seen:
                refused.add(n, f"duplicate order line {row['order_id']}", raw)
                continue
            seen.add(row["order_id"])
            good.append(row)
            if len(good) >= GOOD_CHUNK_ROWS:
                frames.append(pl.DataFrame(good, infer_schema_length=None))
                good = []
    if good:
        frames.append(pl.DataFrame(good, infer_schema_length=None))
    imported = sum(f.height for f in frames)
    kept = refused.rows()
    qfile.parent.mkdir(parents=True, exist_ok=True)
    with qfile.open("w", encoding="utf-8", newline="") as qfh:
        w = csv.DictWriter(qfh, fieldnames=["row_number", "reason", "raw"])
        w.writeheader()
        w.writerows(kept)
    qframe = pl.DataFrame(kept, schema={"row_number": pl.Int64, "reason": pl.String, "raw": pl.String})
    storage.write_quarantine_file(layout.import_quarantine_file("orders"), qframe, refused.count)
    if frames:
        _write_tables(pl.concat(frames, how="diagonal_relaxed"), data_dir, fx_usd_pen)
    error = None
    if missing:
        error = "header lacks required columns: " + ", ".join(missing)
    return ImportResult(imported + refused.count, imported, refused.count, str(qfile), encoding, delimiter, error,
                        quarantine_rows_kept=len(kept))


def _write_tables(df: pl.DataFrame, data_dir: Path, fx: float) -> None:
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
