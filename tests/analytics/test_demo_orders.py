"""The demo generator: deterministic, realistic marginals built on real Peru."""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl
import pytest

from analytics import geo
from analytics.demo_orders import ARCHETYPES, generate_dataset
from analytics.schemas import SCHEMAS


def _digest(d) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.glob("*.parquet"))}


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_dataset(a, n_orders=5_000, seed=11)
    generate_dataset(b, n_orders=5_000, seed=11)
    generate_dataset(c, n_orders=5_000, seed=12)
    assert _digest(a) == _digest(b)
    assert _digest(a)["orders.parquet"] != _digest(c)["orders.parquet"]


@pytest.fixture(scope="module")
def orders(demo_dir) -> pl.DataFrame:
    regions = pl.read_parquet(demo_dir / "regions.parquet").select("code", "natural_region")
    return pl.read_parquet(demo_dir / "orders.parquet").join(regions, left_on="region", right_on="code")


def test_tables_match_their_schemas(demo_dir):
    for name in ("orders", "customers", "products", "regions", "dcs", "carriers", "disruptions"):
        df = pl.read_parquet(demo_dir / f"{name}.parquet")
        good, bad = SCHEMAS[name].split(df)
        assert bad.height == 0, (name, bad.head(3))
        assert good.height == df.height > 0


def test_order_columns_and_window(orders):
    assert orders["order_id"].n_unique() == orders.height == 60_000
    assert orders["created_at"].dtype == pl.Datetime("us", "America/Lima")
    assert orders["order_date"].min() >= date(2022, 1, 1)
    assert orders["order_date"].max() <= date(2024, 12, 31)
    assert set(orders["region"].unique()) <= set(geo.REGION_CODES)
    assert len(set(orders["region"].unique())) == 25
    assert (orders["is_late"] == (orders["actual_days"] > orders["promised_days"])).all()
    # Iquitos has no road link: orders to Loreto from outside Iquitos go by river or air only
    lor = orders.filter((pl.col("region") == "PE-LOR") & (pl.col("origin_dc") != "DC-IQT"))
    assert lor.height > 0 and set(lor["shipping_mode"].unique()) <= {"air", "river"}


def test_overall_late_share_and_lima_share(orders):
    late = orders["is_late"].mean()
    assert 0.15 <= late <= 0.25
    lima = orders.filter(pl.col("region").is_in(["PE-LIM", "PE-CAL"])).height / orders.height
    # Lima + Callao hold ~35% of Peru's population and more of its e-commerce
    assert 0.35 <= lima <= 0.55
    # and Lima alone is the biggest region by far
    counts = orders.group_by("region").len().sort("len", descending=True)
    assert counts["region"][0] == "PE-LIM"
    assert counts["len"][0] > 4 * counts["len"][1]


def test_sierra_rainy_season_is_later(orders):
    sierra = orders.filter(pl.col("natural_region") == "sierra").with_columns(
        rainy=pl.col("order_date").dt.month().is_in([12, 1, 2, 3, 4]))
    # exclude the blockade months so the comparison is the rain alone
    sierra = sierra.filter(~pl.col("order_date").is_between(date(2022, 12, 1), date(2023, 3, 1)))
    by = dict(sierra.group_by("rainy").agg(pl.col("is_late").mean()).iter_rows())
    assert by[True] > by[False] + 0.08
    costa = orders.filter(pl.col("natural_region") == "costa").with_columns(
        rainy=pl.col("order_date").dt.month().is_in([12, 1, 2, 3, 4]))
    cby = dict(costa.group_by("rainy").agg(pl.col("is_late").mean()).iter_rows())
    assert abs(cby[True] - cby[False]) < by[True] - by[False]


def test_blockade_spike_in_the_south(orders):
    south = orders.filter(pl.col("region").is_in(["PE-PUN", "PE-CUS", "PE-APU"]) &
                          pl.col("shipping_mode").is_in(["standard", "express"]))
    during = south.filter(pl.col("order_date").is_between(date(2022, 12, 10), date(2023, 2, 28)))
    same_season_next_year = south.filter(pl.col("order_date").is_between(date(2023, 12, 10), date(2024, 2, 28)))
    assert during["is_late"].mean() > same_season_next_year["is_late"].mean() + 0.12


def test_archetypes_are_planted(demo_dir):
    customers = pl.read_parquet(demo_dir / "customers.parquet")
    assert set(customers["archetype"].unique()) == {a.name for a in ARCHETYPES}
    orders = pl.read_parquet(demo_dir / "orders.parquet").join(customers.select("customer_id", "archetype"),
                                                                on="customer_id")
    per = orders.group_by("archetype").agg(pl.col("discount_pct").mean(), pl.len(),
                                           pl.col("order_date").max().alias("last"))
    by = {r["archetype"]: r for r in per.iter_rows(named=True)}
    assert by["price_hunters"]["discount_pct"] > 2 * by["loyal"]["discount_pct"]
    assert by["lapsed"]["last"] < date(2023, 7, 1)
    assert by["champions"]["len"] > by["occasional"]["len"] / 2


def test_rejects_nonsense(tmp_path):
    with pytest.raises(ValueError):
        generate_dataset(tmp_path, n_orders=0)
