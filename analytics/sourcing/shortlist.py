"""What the Sourcing callbacks call: one function per interaction, engine in, plain results out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from analytics import artifacts
from analytics.sourcing.ingredients import INGREDIENT_IDS
from analytics.sourcing.model import PredictionsUnavailable, load_predictions
from analytics.sourcing.ranking import (
    MenuPlan,
    SourcingInputError,
    menu_plan,
    parse_menu,
    rank_suppliers,
    validate_weights,
)
from analytics.sourcing.sustainability import COMPONENTS, attach_scores, score_components

DEFAULT_INGREDIENTS: tuple[str, ...] = ("cacao", "paiche", "concha_abanico")
DEFAULT_MENU: tuple[dict[str, Any], ...] = (
    {"ingredient_id": "cacao", "kg_month": 25.0},
    {"ingredient_id": "paiche", "kg_month": 120.0},
    {"ingredient_id": "concha_abanico", "kg_month": 60.0},
    {"ingredient_id": "papa_nativa", "kg_month": 300.0},
    {"ingredient_id": "aji_amarillo", "kg_month": 80.0},
    {"ingredient_id": "quinoa", "kg_month": 50.0},
)
EXPORT_COLUMNS: tuple[str, ...] = (
    "ingredient_id", "rank", "supplier_id", "name", "region", "locality", "variety", "composite",
    "sustainability_score", "score_source", *COMPONENTS, "price_pen_kg", "on_time_rate", "distance_km",
    "transport_mode", "co2e_kg_per_kg", "lead_time_days", "capacity_kg_month", "quality_score",
    "certifications", "practices", "audit_completeness", "pareto",
)


@dataclass
class ScoredSuppliers:
    frame: pl.DataFrame  # suppliers + co2e + components + sustainability_score + score_source
    notice: str | None  # None | model_missing | model_stale | model_refused


def scored_suppliers(engine: Any) -> ScoredSuppliers:
    """Suppliers with their score: audited, else the trained model's prediction, else the baseline.

    A model file whose SHA-256 does not match its manifest is refused (notice ``model_refused``).
    """
    raw = engine.collect(engine.table("sourcing_suppliers"))
    scored = score_components(raw)
    notice: str | None = None
    preds: dict[str, float] | None = None
    baseline: float | None = None
    try:
        preds, baseline = load_predictions(engine.data_dir, raw)
    except PredictionsUnavailable as exc:
        notice = "model_stale" if "other supplier data" in str(exc) else "model_missing"
    except artifacts.ArtifactError:
        notice = "model_refused"
    return ScoredSuppliers(attach_scores(scored, preds, baseline if preds else None), notice)


def ingredient_table(engine: Any) -> pl.DataFrame:
    return engine.collect(engine.table("sourcing_ingredients"))


def clean_ingredients(values: object) -> list[str]:
    """Selected ingredient ids (a list or a comma-separated string), order kept, unknown ones refused."""
    if values in (None, "", []):
        return []
    items = values.split(",") if isinstance(values, str) else list(values)  # type: ignore[call-overload]
    out: list[str] = []
    for v in items:
        if not isinstance(v, str) or v.strip() not in INGREDIENT_IDS:
            raise SourcingInputError(f"unknown ingredient {v!r}")
        if v.strip() not in out:
            out.append(v.strip())
    return out


@dataclass
class RankResult:
    ranked: pl.DataFrame
    notice: str | None
    weights: dict[str, float]
    ingredients: list[str]


def rank_view(engine: Any, ingredients: Sequence[str], weights: Mapping[str, object],
              min_quality: float = 0.0) -> RankResult:
    """Ranked suppliers of the chosen ingredients under the weights (per-ingredient ranks, Pareto flag)."""
    ings = clean_ingredients(list(ingredients))
    if not ings:
        raise SourcingInputError("choose at least one ingredient")
    w = validate_weights(weights)
    if not 0 <= float(min_quality) <= 100:
        raise SourcingInputError("minimum quality must be between 0 and 100")
    data = scored_suppliers(engine)
    ranked = rank_suppliers(data.frame, w, ings, float(min_quality))
    return RankResult(ranked, data.notice, w, ings)


def shortlist_csv(engine: Any, ingredients: Sequence[str], weights: Mapping[str, object],
                  top_k: int = 3, min_quality: float = 0.0) -> tuple[str, int]:
    """(CSV text, rows): the top ``top_k`` suppliers of each chosen ingredient with their breakdown."""
    if not 1 <= int(top_k) <= 50:
        raise SourcingInputError("the shortlist keeps 1 to 50 suppliers per ingredient")
    res = rank_view(engine, ingredients, weights, min_quality)
    short = res.ranked.filter(pl.col("rank") <= int(top_k)).select(EXPORT_COLUMNS)
    short = short.with_columns(pl.col(c).round(3) for c in ("composite", "sustainability_score", *COMPONENTS,
                                                            "co2e_kg_per_kg", "on_time_rate"))
    from analytics.csv_export import frame_csv

    return frame_csv(short), short.height


@dataclass
class MenuResult:
    plan: MenuPlan | None
    rejected: list[dict]
    notice: str | None


def menu_view(engine: Any, rows: Sequence[Mapping[str, object]] | None, weights: Mapping[str, object],
              min_quality: float = 0.0) -> MenuResult:
    """Menu mode: validate the rows (bad ones come back with row number + reason) and plan the menu."""
    menu = parse_menu(rows, INGREDIENT_IDS)
    data = scored_suppliers(engine)
    frame = data.frame
    if min_quality > 0:
        frame = frame.filter((pl.col("quality_score") >= min_quality) | pl.col("is_incumbent"))
    if not menu.accepted:
        return MenuResult(None, menu.rejected, data.notice)
    return MenuResult(menu_plan(frame, menu, weights), menu.rejected, data.notice)
