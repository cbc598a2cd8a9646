"""The kinetic model: banded Q10 rates, chilling injury, physics baseline, seasons and grades."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.shelflife import kinetics as K
from analytics.traceability.agro_chains import CROPS


def test_every_perishable_demo_crop_has_a_documented_model() -> None:
    perishable = {k for k, c in CROPS.items() if c.perishable}
    assert set(K.PRODUCTS) == perishable
    for p in K.PRODUCTS.values():
        lo, hi = p.nominal_range
        assert lo < p.nominal_days < hi
        assert p.sources, p.key
        crop = CROPS[p.key]
        assert crop.temp_min_c - 1.0 <= p.optimum_c <= crop.temp_max_c  # optimum at the cold-chain band
        assert p.chill_threshold_c < p.optimum_c
        assert p.min_market_days < p.nominal_days / 2


def test_rate_follows_the_handbook_q10_table() -> None:
    q = K.Q10_DEFAULTS
    assert q == (3.25, 2.25, 1.75, 1.25)
    # a product with its optimum at 0 °C: 10 °C warmer = Q10 of the 0–10 band, then the next band's
    assert K.relative_rate(10.0, 0.0) == pytest.approx(3.25)
    assert K.relative_rate(20.0, 0.0) == pytest.approx(3.25 * 2.25)
    assert K.relative_rate(30.0, 0.0) == pytest.approx(3.25 * 2.25 * 1.75)
    assert K.relative_rate(5.0, 0.0) == pytest.approx(3.25 ** 0.5)
    # an optimum at 10 °C (mango) starts in the 10–20 band
    assert K.relative_rate(20.0, 10.0) == pytest.approx(2.25)
    # at or below the optimum the fruit ages at the nominal rate
    assert K.relative_rate(np.array([-3.0, 0.0]), 0.0) == pytest.approx([1.0, 1.0])
    temps = np.linspace(-2, 40, 400)
    r = K.relative_rate(temps, 0.0)
    assert np.all(np.diff(r) >= 0)
    assert np.max(np.abs(np.diff(np.log(r)))) < 0.05  # continuous across band edges
    per_row = K.relative_rate(np.array([10.0, 10.0]), 0.0, np.array([[2.0, 2, 2, 2], [4.0, 2, 2, 2]]))
    assert per_row == pytest.approx([2.0, 4.0])


def test_a_history_at_the_optimum_loses_only_its_transit_days() -> None:
    for p in K.PRODUCTS.values():
        hours = np.full(24 * 18, 1.0)  # 18 days, hourly
        temps = np.full(hours.size, p.optimum_c)
        loss = K.kinetic_loss_days(temps, hours, p)
        assert loss == 0.0
        assert K.physics_remaining_days(p.key, 18.0, loss) == pytest.approx(p.nominal_days - 18.0)


def test_heat_and_cold_cost_days_beyond_the_elapsed_time() -> None:
    blue = K.PRODUCTS["blueberry"]
    # one hour at 30 °C costs about half a day more than an hour at 0 °C
    one_hour_hot = K.kinetic_loss_days(np.array([30.0]), np.array([1.0]), blue)
    assert one_hour_hot == pytest.approx((3.25 * 2.25 * 1.75 - 1) / 24)
    mango = K.PRODUCTS["mango"]
    chill = K.kinetic_loss_days(np.array([6.0]), np.array([24.0]), mango)  # a day at 6 °C: 3 °C·d under 9 °C
    assert chill == pytest.approx(3.0 * mango.chill_days_per_degree_day)
    with pytest.raises(ValueError):
        K.kinetic_loss_days(np.array([1.0]), np.array([-1.0]), blue)


def test_season_position_wraps_over_new_year_and_grades() -> None:
    assert K.season_position("grape", 10, 1) == pytest.approx(0.0)
    assert 0.9 < float(K.season_position("grape", 2, 28)) <= 1.0
    assert 0.35 < float(K.season_position("grape", 12, 1)) < 0.45
    assert float(K.season_position("asparagus", 2, 14)) == pytest.approx(1.0, abs=0.01)
    assert float(K.season_position("asparagus", 8, 15)) < 0.05
    g = K.grade("blueberry", np.array([25.0, 12.0, 3.0, 0.0]))
    assert g.tolist() == ["A", "B", "C", "D"]
    with pytest.raises(K.UnknownProduct, match="coffee"):
        K.product("coffee")
