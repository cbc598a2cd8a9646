"""The transparent sustainability score (0-100) and transport CO2e per kg delivered to Lima.

Five components a buyer can inspect, each with its own maximum (they add up to 100):

=================  ====  ==========================================================================
component          max   how
=================  ====  ==========================================================================
certifications      25   sum of certification points (ingredients.CERTIFICATIONS), capped at 25
practices           20   20 × (0.6 × practice points / 12 + 0.4 × environment audit / 100); practice
                         points = best practice + 2 per extra practice, capped at 12
transport           20   20 × max(0, 1 − CO2e per kg / 1.2 kg)
social              20   20 × (0.45 × labour audit / 100 + 0.20 co-op + 0.20 fair-price premium
                         + 0.15 women-led)
reliability         15   15 × (0.7 × on-time rate + 0.3 × traceability audit / 100)
=================  ====  ==========================================================================

Transport CO2e per kg = Σ legs km × factor (kg CO2e per t-km) / 1000; road legs use the reefer factor
when the mode is ``road_reefer``. A supplier missing an audit section has no audited score: its score
is predicted by the Keras model (model.py) or, without a trained model, set to the mean-score
baseline, and the source is shown (``score_source``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.sourcing.ingredients import (
    AUDIT_SECTIONS,
    CERT_CAP,
    CERTIFICATIONS,
    CO2E_REFERENCE_KG_PER_KG,
    EMISSION_FACTORS_KG_PER_TKM,
    PRACTICE_CAP,
    PRACTICES,
    PRACTICES_COMPONENT_MAX,
    RELIABILITY_COMPONENT_MAX,
    SOCIAL_COMPONENT_MAX,
    TRANSPORT_COMPONENT_MAX,
)

COMPONENTS: tuple[str, ...] = ("pts_certifications", "pts_practices", "pts_transport", "pts_social",
                               "pts_reliability")
COMPONENT_MAX: dict[str, float] = {
    "pts_certifications": CERT_CAP,
    "pts_practices": PRACTICES_COMPONENT_MAX,
    "pts_transport": TRANSPORT_COMPONENT_MAX,
    "pts_social": SOCIAL_COMPONENT_MAX,
    "pts_reliability": RELIABILITY_COMPONENT_MAX,
}
assert abs(sum(COMPONENT_MAX.values()) - 100.0) < 1e-9


def co2e_kg_per_kg(road_km: float, river_km: float, air_km: float, mode: str) -> float:
    """Transport CO2e (kg) per kg delivered to Lima for one supplier (the scalar reference formula)."""
    f = EMISSION_FACTORS_KG_PER_TKM
    road_f = f["road_reefer"] if mode == "road_reefer" else f["road"]
    return (road_km * road_f + river_km * f["river"] + air_km * f["air"]) / 1000.0


def co2e_expr() -> pl.Expr:
    f = EMISSION_FACTORS_KG_PER_TKM
    road_f = pl.when(pl.col("transport_mode") == "road_reefer").then(f["road_reefer"]).otherwise(f["road"])
    return ((pl.col("road_km") * road_f + pl.col("river_km") * f["river"] + pl.col("air_km") * f["air"])
            / 1000.0).alias("co2e_kg_per_kg")


def _list_points(col: str, points: dict[str, float]) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(sum of points, max of points, count) of a comma-separated vocabulary column."""
    items = pl.col(col).str.split(",").list.eval(pl.element().filter(pl.element() != ""))
    pts = items.list.eval(pl.element().replace_strict(points, default=0.0, return_dtype=pl.Float64))
    return pts.list.sum().fill_null(0.0), pts.list.max().fill_null(0.0), items.list.len()


def score_components(suppliers: pl.DataFrame) -> pl.DataFrame:
    """Add co2e_kg_per_kg, the five ``pts_*`` components and ``audited_score`` (null if audit incomplete)."""
    cert_sum, _, _ = _list_points("certifications", CERTIFICATIONS)
    _, prac_best, prac_n = _list_points("practices", PRACTICES)
    practice_pts = pl.min_horizontal(prac_best + 2.0 * (prac_n - 1).clip(lower_bound=0), pl.lit(PRACTICE_CAP))
    env, lab, tra = (pl.col(s) for s in AUDIT_SECTIONS)
    out = suppliers.with_columns(co2e_expr()).with_columns(
        pl.min_horizontal(cert_sum, pl.lit(CERT_CAP)).abs().alias("pts_certifications"),  # abs: no -0.0
        (PRACTICES_COMPONENT_MAX * (0.6 * practice_pts / PRACTICE_CAP + 0.4 * env / 100.0)).alias("pts_practices"),
        (TRANSPORT_COMPONENT_MAX * (1.0 - pl.col("co2e_kg_per_kg") / CO2E_REFERENCE_KG_PER_KG).clip(0.0, 1.0))
        .alias("pts_transport"),
        (SOCIAL_COMPONENT_MAX * (0.45 * lab / 100.0 + 0.20 * pl.col("is_coop").cast(pl.Float64)
                                 + 0.20 * pl.col("fair_price_premium").cast(pl.Float64)
                                 + 0.15 * pl.col("women_led").cast(pl.Float64))).alias("pts_social"),
        (RELIABILITY_COMPONENT_MAX * (0.7 * pl.col("on_time_rate") + 0.3 * tra / 100.0)).alias("pts_reliability"),
    )
    return out.with_columns(pl.sum_horizontal(COMPONENTS).alias("audited_score")).with_columns(
        pl.when(pl.any_horizontal(pl.col(s).is_null() for s in AUDIT_SECTIONS))
        .then(None).otherwise(pl.col("audited_score")).alias("audited_score")
    )


def attach_scores(scored: pl.DataFrame, predictions: dict[str, float] | None,
                  baseline: float | None = None) -> pl.DataFrame:
    """Final ``sustainability_score`` and ``score_source`` (audit | model | baseline).

    ``predictions`` maps supplier_id → model score for suppliers with incomplete audits. Without one,
    the score is the baseline: the mean audited score (the same baseline the model is judged against).
    """
    if baseline is None:
        audited = scored.get_column("audited_score").drop_nulls()
        baseline = float(audited.mean()) if audited.len() else 50.0  # type: ignore[arg-type]
    pred = pl.DataFrame(
        {"supplier_id": list((predictions or {}).keys()),
         "_pred": np.asarray(list((predictions or {}).values()), dtype=float)},
        schema={"supplier_id": pl.String, "_pred": pl.Float64},
    )
    out = scored.join(pred, on="supplier_id", how="left")
    return out.with_columns(
        pl.when(pl.col("audited_score").is_not_null()).then(pl.col("audited_score"))
        .when(pl.col("_pred").is_not_null()).then(pl.col("_pred").clip(0.0, 100.0))
        .otherwise(pl.lit(baseline)).alias("sustainability_score"),
        pl.when(pl.col("audited_score").is_not_null()).then(pl.lit("audit"))
        .when(pl.col("_pred").is_not_null()).then(pl.lit("model"))
        .otherwise(pl.lit("baseline")).alias("score_source"),
    ).drop("_pred")
