"""Weekly demand: units per origin_dc x category and Lima week, complete weeks only, as-of cut."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from analytics import storage
from analytics.demand.weekly import DemandDataError, complete_weeks, load_panel, monday, weekly_demand
from analytics.engine.polars_engine import PolarsEngine

LIMA = ZoneInfo("America/Lima")


def test_weekly_units_are_the_sum_of_quantity_per_series_and_monday_week(seed_dirs):
    engine = PolarsEngine(seed_dirs[1])
    weekly = weekly_demand(engine)
    orders = storage.load_table(seed_dirs[1], "orders").frame
    expected = (orders.with_columns(pl.col("order_date").dt.truncate("1w").alias("week_start"))
                .group_by("origin_dc", "category", "week_start")
                .agg(pl.col("quantity").sum().alias("units"), pl.len().alias("orders"),
                     pl.col("discount_pct").mean().alias("discount_pct"))
                .sort("origin_dc", "category", "week_start"))
    assert weekly.height == expected.height > 5_000  # sparse series skip weeks: no row, not a zero row
    assert weekly["units"].to_list() == expected["units"].to_list()
    assert weekly["orders"].to_list() == expected["orders"].cast(pl.Int64).to_list()
    assert np.allclose(weekly["discount_pct"].to_numpy(), expected["discount_pct"].to_numpy())
    assert {d.weekday() for d in weekly["week_start"].to_list()} == {0}
    assert weekly["units"].sum() == orders["quantity"].sum()


def test_a_sunday_night_order_in_lima_belongs_to_that_week(seed_dirs, tmp_path: Path):
    """23:30 on Sunday 7 January 2024 in Lima is already Monday in UTC: it still counts in the week of
    Monday 1 January."""
    d = tmp_path / "data"
    shutil.copytree(seed_dirs[1], d)
    orders = storage.load_table(d, "orders").frame
    late = datetime(2024, 1, 7, 23, 30, tzinfo=LIMA)
    assert late.astimezone(ZoneInfo("UTC")).weekday() == 0
    row = orders.head(1).with_columns(pl.lit("DC-TEST").alias("origin_dc"), pl.lit(77, pl.Int64).alias("quantity"),
                                      pl.lit(late).dt.cast_time_unit("us").alias("created_at"))
    row = row.with_columns(pl.col("created_at").dt.date().alias("order_date"))
    storage.write_table(pl.concat([orders, row]), d, "orders")
    weekly = weekly_demand(PolarsEngine(d)).filter(pl.col("origin_dc") == "DC-TEST")
    assert weekly.select("week_start", "units").rows() == [(date(2024, 1, 1), 77)]


def test_complete_weeks_and_the_as_of_cut(seed_dirs, tmp_path: Path):
    assert complete_weeks(date(2022, 1, 1), date(2024, 12, 31)) == (date(2022, 1, 3), date(2024, 12, 30))
    assert complete_weeks(date(2022, 1, 3), date(2024, 12, 29)) == (date(2022, 1, 3), date(2024, 12, 30))
    engine = PolarsEngine(seed_dirs[1])
    panel, cut = load_panel(engine)
    # the demo data runs from Friday 1 October 2021 to Tuesday 31 December 2024
    assert cut == date(2024, 12, 30) and panel.weeks[0] == date(2021, 10, 4) and panel.n_weeks == 169
    assert panel.n_series == 72 and panel.units.sum() == weekly_demand(engine).filter(
        (pl.col("week_start") >= date(2021, 10, 4)) & (pl.col("week_start") < cut))["units"].sum()
    # zeros, not gaps: every series has every week
    assert panel.units.shape == (72, 169) and (panel.units == 0).sum() > 0
    # a mid-week as-of moves back to its Monday
    mid, cut_mid = load_panel(engine, date(2024, 6, 13))
    assert cut_mid == monday(date(2024, 6, 13)) == date(2024, 6, 10)
    assert np.array_equal(mid.units, panel.units[:, : mid.n_weeks])
    with pytest.raises(DemandDataError, match="after the last complete week"):
        load_panel(engine, date(2025, 3, 1))
    with pytest.raises(DemandDataError, match="no complete week"):
        load_panel(engine, date(2021, 10, 3))


def test_orders_on_or_after_the_as_of_date_are_never_read(seed_dirs, tmp_path: Path):
    d = tmp_path / "data"
    shutil.copytree(seed_dirs[1], d)
    as_of = date(2024, 7, 1)
    before, _ = load_panel(PolarsEngine(d), as_of)
    orders = storage.load_table(d, "orders").frame
    changed = orders.with_columns(pl.when(pl.col("order_date") >= as_of).then(pl.col("quantity") * 50)
                                  .otherwise(pl.col("quantity")).alias("quantity"))
    storage.write_table(changed, d, "orders")
    after, _ = load_panel(PolarsEngine(d), as_of)
    assert np.array_equal(before.units, after.units) and before.keys == after.keys
    assert after.weeks[-1] == as_of - timedelta(days=7)


def test_every_cyber_wow_reader_uses_the_one_list_in_geo():
    """Cyber Wow dates live once (analytics.geo.CYBER_WOW): the demand calendar, the scenario engine's peak days,
    the delivery-days features and the demo generator all follow it."""
    from datetime import date, timedelta

    from analytics import demo_orders, geo
    from analytics.demand.calendar import week_calendar
    from analytics.logistics import features
    from analytics.scenarios.inputs import is_peak_day

    days = {date.fromisoformat(a) + timedelta(days=i) for a, b in geo.CYBER_WOW
            for i in range((date.fromisoformat(b) - date.fromisoformat(a)).days + 1)}
    assert len(days) == 4 * len(geo.CYBER_WOW)
    for d in sorted(days):
        monday = d - timedelta(days=d.weekday())
        assert week_calendar(monday)["cyber_share"] > 0
        assert is_peak_day(d) and d in set(features._CYBER_BACKLOG)
    cal = demo_orders._calendar()
    generated = {demo_orders.START + timedelta(days=int(i)) for i in np.flatnonzero(cal["cyber"])}
    assert generated == {d for d in days if d >= demo_orders.START}
    for module in (features, demo_orders):
        assert not hasattr(module, "CYBER_WOW")
