"""The demo generator: deterministic, realistic marginals built on real Peru."""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import polars as pl
import pytest

from analytics import geo
from analytics.demo_orders import (
    ARCHETYPES,
    BLOCKADE_CUT_RANGE,
    CUT_WAIT_FACTOR_RANGE,
    FLOOD_RAIN_CHANCE_RANGE,
    FLOOD_RAIN_DAYS_RANGE,
    PORT_HOLD_CHANCE_RANGE,
    PORT_HOLD_DAYS_RANGE,
    PORT_SPELL_FACTOR_RANGE,
    START,
    YAKU_CUT_RANGE,
    draw_severities,
    generate_dataset,
)
from analytics.schemas import SCHEMAS


def _digest(d) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.glob("*.parquet"))}


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_dataset(a, n_orders=5_000, seed=11)
    generate_dataset(b, n_orders=5_000, seed=11)
    generate_dataset(c, n_orders=5_000, seed=12, with_extensions=False)  # the core tables are enough here
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
    assert orders["order_date"].min() >= date(2021, 10, 1)
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


def test_every_episode_has_three_months_of_history_before_it(orders):
    first = orders["order_date"].min()
    assert START == date(2021, 10, 1) and first < date(2021, 10, 8)
    for ep in geo.DISRUPTIONS:
        start = date.fromisoformat(ep["start"])
        three_months_before = date(start.year - (start.month <= 3), (start.month - 4) % 12 + 1, start.day)
        assert first <= three_months_before, ep["episode"]


def test_severities_are_drawn_per_seed_within_documented_ranges():
    runs = [draw_severities(seed) for seed in range(40)]
    assert draw_severities(7) == draw_severities(7)  # deterministic per seed
    by_episode: dict[str, list] = {}
    for sevs in runs:
        assert [s.episode for s in sevs] == [e["episode"] for e in geo.DISRUPTIONS]
        for s in sevs:
            by_episode.setdefault(s.episode, []).append(s)
    for sevs in by_episode.values():
        kind = sevs[0].kind
        if kind in ("road_blockade", "flood"):
            ranges = BLOCKADE_CUT_RANGE if kind == "road_blockade" else YAKU_CUT_RANGE
            for s in sevs:
                assert set(s.cut_share) == set(ranges)
                assert all(ranges[r][0] <= v <= ranges[r][1] for r, v in s.cut_share.items())
                assert CUT_WAIT_FACTOR_RANGE[0] <= s.wait_factor <= CUT_WAIT_FACTOR_RANGE[1]
            # no constant: the shares really vary from seed to seed, and the regional mean with them
            means = [np.mean(list(s.cut_share.values())) for s in sevs]
            assert np.std(means) > 0.03 and max(means) - min(means) > 0.1
        if kind == "flood":
            assert all(FLOOD_RAIN_CHANCE_RANGE[0] <= s.rain_chance <= FLOOD_RAIN_CHANCE_RANGE[1] for s in sevs)
            assert all(FLOOD_RAIN_DAYS_RANGE[0] <= s.rain_days <= FLOOD_RAIN_DAYS_RANGE[1] for s in sevs)
            assert np.std([s.rain_chance for s in sevs]) > 0.015
        if kind == "port_congestion":
            lo_c, hi_c = PORT_HOLD_CHANCE_RANGE
            lo_d, hi_d = PORT_HOLD_DAYS_RANGE
            f_lo, f_hi = PORT_SPELL_FACTOR_RANGE
            assert all(lo_c * f_lo <= s.hold_chance <= hi_c * f_hi for s in sevs)
            assert all(lo_d * f_lo <= s.hold_days <= hi_d * f_hi for s in sevs)
            assert np.std([s.hold_days for s in sevs]) > 0.1
    # the two Callao spells of a seed share the port's draw (each spell moves it by its own factor only)
    for sevs in runs:
        a, b = (s for s in sevs if s.kind == "port_congestion")
        assert abs(a.hold_days / b.hold_days - 1) <= f_hi / f_lo - 1 + 1e-9


def test_episode_severity_shows_in_the_data(tmp_path):
    """Of forty seeds, the one whose blockade was the mildest and the one whose blockade was the hardest (the
    expected extra days of a shipment into the south, by population): the hardest shows the bigger rise in
    delivery days there."""
    pop = {r.code: r.population for r in geo.REGIONS}

    def severity(seed: int) -> float:
        sev = next(s for s in draw_severities(seed) if s.kind == "road_blockade")
        extra = {r: c * sev.wait_factor * (1 + 5 * c) for r, c in sev.cut_share.items()}
        return sum(pop[r] * v for r, v in extra.items()) / sum(pop[r] for r in extra)

    ranked = sorted(range(40), key=severity)
    rise = {}
    for seed in (ranked[0], ranked[-1]):
        d = tmp_path / str(seed)
        generate_dataset(d, n_orders=60_000, seed=seed, with_extensions=False)
        assert sorted(p.stem for p in d.glob("*.parquet")) == [
            "carriers", "customers", "dcs", "disruptions", "orders", "products", "regions"]
        o = pl.read_parquet(d / "orders.parquet").filter(pl.col("region").is_in(list(BLOCKADE_CUT_RANGE)),
                                                         pl.col("shipping_mode").is_in(["standard", "express"]))
        during = o.filter(pl.col("order_date").is_between(date(2022, 12, 10), date(2023, 2, 28)))
        after = o.filter(pl.col("order_date").is_between(date(2023, 12, 10), date(2024, 2, 28)))
        rise[seed] = during["actual_days"].mean() - after["actual_days"].mean()
    assert severity(ranked[-1]) > 1.5 * severity(ranked[0])
    assert rise[ranked[-1]] > 1.2 * rise[ranked[0]] > 0, rise


def test_rejects_nonsense(tmp_path):
    with pytest.raises(ValueError):
        generate_dataset(tmp_path, n_orders=0)
