"""The weekly demand aggregation gives the same frame on Polars and on Spark (one narwhals query), on the demo
data and the run's Spark Connect server."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analytics.demand.weekly import load_panel, weekly_demand

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("before", [None, date(2023, 7, 12)])
def test_weekly_demand_same_on_polars_and_spark(engines, before):
    pe, se = engines
    a, b = weekly_demand(pe, before), weekly_demand(se, before)
    assert a.height > 3_000
    assert b.schema == a.schema == {"origin_dc": pl.String, "category": pl.String, "week_start": pl.Date,
                                    "units": pl.Int64, "orders": pl.Int64, "amount_pen": pl.Float64,
                                    "discount_pct": pl.Float64}
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9)
    assert {d.weekday() for d in b["week_start"].to_list()} == {0}


def test_demand_panel_same_on_polars_and_spark(engines):
    pe, se = engines
    (pa, ca), (pb, cb) = load_panel(pe), load_panel(se)
    assert ca == cb and pa.keys == pb.keys and pa.weeks == pb.weeks
    np.testing.assert_array_equal(pa.units, pb.units)
    np.testing.assert_allclose(pa.amount_pen, pb.amount_pen, rtol=1e-9)
