"""The transparent score: CO2e by hand, components, bounds, audit gaps."""

from __future__ import annotations

import polars as pl
import pytest

from analytics.sourcing.ingredients import AUDIT_SECTIONS, EMISSION_FACTORS_KG_PER_TKM
from analytics.sourcing.sustainability import COMPONENT_MAX, COMPONENTS, attach_scores, co2e_kg_per_kg, score_components


def _supplier(**kw: object) -> dict:
    base = {"supplier_id": "T-1", "ingredient_id": "cacao", "certifications": "", "practices": "conventional",
            "is_coop": False, "women_led": False, "fair_price_premium": False, "transport_mode": "road",
            "road_km": 0.0, "river_km": 0.0, "air_km": 0.0, "on_time_rate": 1.0,
            "audit_environment": 100.0, "audit_labour": 100.0, "audit_traceability": 100.0}
    base.update(kw)
    return base


def test_co2e_matches_hand_computation() -> None:
    assert EMISSION_FACTORS_KG_PER_TKM == {"road": 0.090, "road_reefer": 0.110, "air": 1.130, "river": 0.040}
    rows = [
        _supplier(supplier_id="a", transport_mode="road", road_km=1000.0),  # 1000 × 0.090 / 1000
        _supplier(supplier_id="b", transport_mode="road_reefer", road_km=500.0),  # 500 × 0.110 / 1000
        _supplier(supplier_id="c", transport_mode="air", road_km=20.0, air_km=800.0),  # (20×0.09 + 800×1.13)/1000
        _supplier(supplier_id="d", transport_mode="river_road", road_km=760.0, river_km=1000.0),  # (760×.09+1000×.04)/1000
    ]
    got = score_components(pl.DataFrame(rows))["co2e_kg_per_kg"].to_list()
    assert got == pytest.approx([0.090, 0.055, 0.9058, 0.1084], abs=1e-12)
    assert co2e_kg_per_kg(20.0, 0.0, 800.0, "air") == pytest.approx(0.9058)
    # transport component: 20 × (1 − co2e / 1.2)
    pts = score_components(pl.DataFrame(rows))["pts_transport"].to_list()
    assert pts == pytest.approx([20 * (1 - 0.09 / 1.2), 20 * (1 - 0.055 / 1.2), 20 * (1 - 0.9058 / 1.2),
                                 20 * (1 - 0.1084 / 1.2)])


def test_components_by_hand() -> None:
    row = _supplier(certifications="fairtrade,organic,senasa", practices="agroforestry,smallholder_coop",
                    is_coop=True, women_led=True, fair_price_premium=True, on_time_rate=0.9,
                    audit_environment=80.0, audit_labour=70.0, audit_traceability=60.0, road_km=800.0)
    r = score_components(pl.DataFrame([row])).row(0, named=True)
    assert r["pts_certifications"] == pytest.approx(10 + 8 + 3)
    assert r["pts_practices"] == pytest.approx(20 * (0.6 * 12 / 12 + 0.4 * 0.8))  # 12 + 2 capped at 12
    assert r["pts_social"] == pytest.approx(20 * (0.45 * 0.7 + 0.2 + 0.2 + 0.15))
    assert r["pts_reliability"] == pytest.approx(15 * (0.7 * 0.9 + 0.3 * 0.6))
    assert r["audited_score"] == pytest.approx(sum(r[c] for c in COMPONENTS))
    # certifications are capped at 25
    many = score_components(pl.DataFrame([_supplier(certifications="organic,fairtrade,rainforest_alliance,dop")]))
    assert many["pts_certifications"][0] == 25.0


def test_scores_in_range_and_sum(scored: pl.DataFrame) -> None:
    for c, cap in COMPONENT_MAX.items():
        col = scored[c].drop_nulls()
        assert col.min() >= 0 and col.max() <= cap + 1e-9, c
    full = scored.filter(pl.col("audited_score").is_not_null())
    assert ((full["audited_score"] - full.select(pl.sum_horizontal(COMPONENTS))[:, 0]).abs() < 1e-9).all()
    assert 0 < scored["sustainability_score"].min() and scored["sustainability_score"].max() <= 100
    # better-run practices score higher on average than conventional farming
    conv = full.filter(pl.col("practices") == "conventional")["audited_score"].mean()
    agro = full.filter(pl.col("practices").str.contains("agroforestry"))["audited_score"].mean()
    assert agro > conv + 10


def test_incomplete_audits_have_no_audited_score(scored: pl.DataFrame) -> None:
    incomplete = scored.filter(pl.col("audit_completeness") < 1)
    assert incomplete.height > 0
    assert incomplete["audited_score"].null_count() == incomplete.height
    assert (incomplete.select(pl.any_horizontal(pl.col(s).is_null() for s in AUDIT_SECTIONS))[:, 0]).all()
    baseline = scored["audited_score"].mean()
    assert set(incomplete["score_source"]) == {"baseline"}
    assert incomplete["sustainability_score"].to_list() == pytest.approx([baseline] * incomplete.height)
    with_model = attach_scores(scored.drop("sustainability_score", "score_source"),
                               {incomplete["supplier_id"][0]: 150.0})
    first = with_model.filter(pl.col("supplier_id") == incomplete["supplier_id"][0]).row(0, named=True)
    assert first["score_source"] == "model" and first["sustainability_score"] == 100.0  # clipped
