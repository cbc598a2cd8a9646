"""Fixtures for the segments tests: hand-made orders with known RFM values."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

REF = date(2024, 12, 31)


def make_orders(spec: list[dict]) -> pl.DataFrame:
    """Orders from per-customer specs: dates, amount, quantity, discount, late flags, category, region."""
    rows = []
    n = 0
    for c in spec:
        for i, d in enumerate(c["dates"]):
            n += 1
            rows.append({
                "order_id": f"T-{n:06d}", "customer_id": c["id"],
                "created_at": datetime(d.year, d.month, d.day, 12), "order_date": d, "country": "PE",
                "region": c.get("region", "PE-LIM"), "city": "Lima",
                "category": c["categories"][i % len(c["categories"])] if "categories" in c else "home",
                "product_id": "P0001", "quantity": c.get("quantity", 1),
                "amount_pen": float(c["amounts"][i] if "amounts" in c else c.get("amount", 100.0)),
                "discount_pct": float(c.get("discount", 5.0)),
                "shipping_mode": "standard", "carrier": "Chaski Express", "origin_dc": "DC-LIM",
                "distance_km": 10.0, "weight_kg": 1.0, "shipping_cost_pen": 9.0,
                "promised_days": 2, "actual_days": 3 if i in c.get("late", ()) else 1,
                "is_late": i in c.get("late", ()),
            })
    return pl.DataFrame(rows).with_columns(pl.col("created_at").dt.replace_time_zone("America/Lima"))


def every(start: date, n: int, step_days: int) -> list[date]:
    return [start + timedelta(days=step_days * i) for i in range(n)]


@pytest.fixture()
def small_orders() -> pl.DataFrame:
    return make_orders([
        # A: 4 orders, last on 2024-12-01 -> recency 30 days; first 2024-01-01 -> tenure 365
        {"id": "A", "dates": [date(2024, 1, 1), date(2024, 5, 1), date(2024, 9, 1), date(2024, 12, 1)],
         "amounts": [100, 200, 300, 400], "quantity": 2, "discount": 10.0, "late": (1,),
         "categories": ["home", "home", "toys", "home"], "region": "PE-ARE"},
        # B: 1 order on 2023-12-31 -> recency 366, tenure 366
        {"id": "B", "dates": [date(2023, 12, 31)], "amount": 50.0, "discount": 30.0, "region": "PE-CUS"},
        # C: 2 orders, one late, split between two categories
        {"id": "C", "dates": [date(2024, 12, 30), date(2024, 12, 31)], "amounts": [1000, 3000],
         "discount": 0.0, "late": (0, 1), "categories": ["electronics", "sports"]},
    ])
