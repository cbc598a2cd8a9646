"""Ranking with the user's weights, the Pareto front, and menu mode.

Criteria (each scaled 0–1 within an ingredient, 1 = best, min–max; a criterion that does not vary
within the ingredient scores 1 for every supplier):

- sustainability: the 0–100 score (higher is better)
- price: price per kg (lower is better)
- reliability: on-time rate of the last 12 months (higher is better)
- distance: km to Lima (lower is better)

composite = 100 × Σ wᵢ·uᵢ / Σ wᵢ. Ranks are per ingredient; ties are broken deterministically by
sustainability (desc), price (asc), on-time rate (desc), distance (asc), then supplier_id (asc), so a
supplier that is at least as good on every criterion is never ranked below one it dominates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

CRITERIA: tuple[str, ...] = ("sustainability", "price", "reliability", "distance")
# criterion -> (column, higher is better)
CRITERION_COLUMNS: dict[str, tuple[str, bool]] = {
    "sustainability": ("sustainability_score", True),
    "price": ("price_pen_kg", False),
    "reliability": ("on_time_rate", True),
    "distance": ("distance_km", False),
}
DEFAULT_WEIGHTS: dict[str, float] = {"sustainability": 40.0, "price": 30.0, "reliability": 20.0, "distance": 10.0}
TIE_BREAK = (("sustainability_score", True), ("price_pen_kg", False), ("on_time_rate", True),
             ("distance_km", False), ("supplier_id", False))


class SourcingInputError(ValueError):
    """The user's weights, ingredients or menu cannot be used (the message says why)."""


def validate_weights(weights: Mapping[str, object] | None) -> dict[str, float]:
    """Weights as floats ≥ 0 for the four criteria (missing = 0); at least one must be > 0."""
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    unknown = set(weights) - set(CRITERIA)
    if unknown:
        raise SourcingInputError(f"unknown criteria: {', '.join(sorted(unknown))}")
    out: dict[str, float] = {}
    for c in CRITERIA:
        v = weights.get(c, 0.0)
        try:
            f = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise SourcingInputError(f"weight for {c} is not a number: {v!r}") from None
        if not math.isfinite(f) or f < 0:
            raise SourcingInputError(f"weight for {c} must be a number ≥ 0, not {v!r}")
        out[c] = f
    if sum(out.values()) <= 0:
        raise SourcingInputError("at least one weight must be greater than 0")
    return out


def _utility(col: str, higher_better: bool) -> pl.Expr:
    x = pl.col(col).cast(pl.Float64)
    lo, hi = x.min().over("ingredient_id"), x.max().over("ingredient_id")
    span = hi - lo
    u = (x - lo) / span if higher_better else (hi - x) / span
    return pl.when(span > 0).then(u).otherwise(pl.lit(1.0))


def rank_suppliers(scored: pl.DataFrame, weights: Mapping[str, object] | None = None,
                   ingredients: Sequence[str] | None = None, min_quality: float = 0.0) -> pl.DataFrame:
    """Rank suppliers within each ingredient (vectorised).

    ``scored`` needs the columns of CRITERION_COLUMNS plus ingredient_id, supplier_id and
    quality_score. Adds ``u_<criterion>`` (0–1), ``c_<criterion>`` (points of the composite),
    ``composite`` (0–100), ``rank`` (1 = best, per ingredient) and ``pareto`` (on the price ×
    sustainability front of its ingredient). Sorted by ingredient (in the order asked) and rank.
    """
    w = validate_weights(weights)
    total = sum(w.values())
    df = scored
    if ingredients:
        known = set(df.get_column("ingredient_id").unique().to_list())
        missing = [i for i in ingredients if i not in known]
        if missing:
            raise SourcingInputError(f"unknown ingredients: {', '.join(missing)}")
        df = df.filter(pl.col("ingredient_id").is_in(list(ingredients)))
    if min_quality > 0:
        df = df.filter(pl.col("quality_score") >= min_quality)
    df = df.with_columns(_utility(col, hb).alias(f"u_{c}") for c, (col, hb) in CRITERION_COLUMNS.items())
    df = df.with_columns((100.0 * w[c] / total * pl.col(f"u_{c}")).alias(f"c_{c}") for c in CRITERIA)
    df = df.with_columns(pl.sum_horizontal([f"c_{c}" for c in CRITERIA]).alias("composite"))
    order = list(ingredients) if ingredients else sorted(set(df.get_column("ingredient_id").to_list()))
    df = df.with_columns(
        pl.col("ingredient_id").replace_strict({k: i for i, k in enumerate(order)}, return_dtype=pl.Int32)
        .alias("_ing_order")
    )
    df = df.sort(["_ing_order", "composite", *[c for c, _ in TIE_BREAK]],
                 descending=[False, True, *[hb for _, hb in TIE_BREAK]])
    df = df.with_columns(pl.int_range(1, pl.len() + 1).over("ingredient_id").alias("rank"))
    df = df.with_columns(pl.Series("pareto", pareto_mask(df)))
    return df.drop("_ing_order")


def pareto_mask(df: pl.DataFrame, cost: str = "price_pen_kg", benefit: str = "sustainability_score",
                group: str = "ingredient_id") -> np.ndarray:
    """True where no supplier of the same group is at least as cheap and as sustainable, and better
    on one (the price × sustainability Pareto front). O(n log n): per group, sort the price levels;
    a supplier is dominated if a strictly cheaper level reaches its score, or its own price level
    holds a strictly higher score."""
    if df.height == 0:
        return np.zeros(0, bool)
    tmp = df.select(group, cost, benefit).with_row_index("_i")
    levels = (tmp.group_by(group, cost).agg(pl.col(benefit).max().alias("_best")).sort(group, cost)
              .with_columns(pl.col("_best").cum_max().shift(1).over(group).alias("_prev")))
    j = tmp.join(levels, on=[group, cost], how="left").sort("_i")
    dominated = (j["_prev"] >= j[benefit]).fill_null(False) | (j["_best"] > j[benefit])
    return ~dominated.to_numpy()


def dominates(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """a is at least as good as b on all four criteria and strictly better on one."""
    ge, gt = True, False
    for col, hb in CRITERION_COLUMNS.values():
        x, y = (a[col], b[col]) if hb else (b[col], a[col])
        ge &= x >= y
        gt |= x > y
    return ge and gt


def rank_naive(rows: Iterable[Mapping[str, object]], weights: Mapping[str, object]) -> list[dict]:
    """Reference implementation with plain Python loops (for the benchmark and tests)."""
    w = validate_weights(weights)
    total = sum(w.values())
    by_ing: dict[str, list[dict]] = {}
    for r in rows:
        by_ing.setdefault(str(r["ingredient_id"]), []).append(dict(r))
    out: list[dict] = []
    for ing in sorted(by_ing):
        group = by_ing[ing]
        for c, (col, hb) in CRITERION_COLUMNS.items():
            vals = [float(r[col]) for r in group]
            lo, hi = min(vals), max(vals)
            for r, v in zip(group, vals, strict=True):
                r[f"u_{c}"] = 1.0 if hi <= lo else ((v - lo) / (hi - lo) if hb else (hi - v) / (hi - lo))
        for r in group:
            r["composite"] = sum(100.0 * w[c] / total * r[f"u_{c}"] for c in CRITERIA)

        def key(r: dict) -> tuple:
            return (-r["composite"], -r["sustainability_score"], r["price_pen_kg"], -r["on_time_rate"],
                    r["distance_km"], r["supplier_id"])

        for i, r in enumerate(sorted(group, key=key), start=1):
            r["rank"] = i
            out.append(r)
    return out


# --- menu mode ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuLine:
    ingredient_id: str
    kg_month: float


@dataclass
class MenuInput:
    accepted: list[MenuLine]
    rejected: list[dict]  # {"row_number": int, "reason": str, "input": ...}


def parse_menu(rows: Sequence[Mapping[str, object]] | None, known: Iterable[str]) -> MenuInput:
    """Validate menu rows ({ingredient_id, kg_month}); bad rows are kept with row number + reason.

    Rows with the same ingredient are summed. Row numbers count from 1 in the order given.
    """
    known_set = set(known)
    accepted: dict[str, float] = {}
    rejected: list[dict] = []
    for n, row in enumerate(rows or [], start=1):
        ing = row.get("ingredient_id") if isinstance(row, Mapping) else None
        kg = row.get("kg_month") if isinstance(row, Mapping) else None
        if ing in (None, "") and kg in (None, ""):
            continue  # an empty editor row is not an input
        reason = None
        if not isinstance(ing, str) or ing not in known_set:
            reason = f"unknown ingredient {ing!r}"
        else:
            try:
                val = float(kg)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                val = float("nan")
            if not math.isfinite(val) or val <= 0:
                reason = f"kg per month must be a number > 0, not {kg!r}"
            elif val > 1e6:
                reason = f"kg per month {val:,.0f} is above the 1,000,000 kg limit"
        if reason:
            rejected.append({"row_number": n, "reason": reason, "input": dict(row) if isinstance(row, Mapping)
                             else row})
        else:
            accepted[str(ing)] = accepted.get(str(ing), 0.0) + val
    return MenuInput([MenuLine(k, v) for k, v in accepted.items()], rejected)


@dataclass
class MenuPlan:
    lines: pl.DataFrame  # one row per ingredient: current vs alternative
    allocation: pl.DataFrame  # the alternative set: supplier, kg allocated
    totals: dict[str, float] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)


def _current_supplier(grp: pl.DataFrame, ingredient_id: str, current: Mapping[str, str]) -> dict[str, Any]:
    """The ingredient's current supplier: the one named in ``current``, else the incumbent, else the last ranked."""
    cur_id = current.get(ingredient_id)
    if cur_id is None:
        inc = grp.filter(pl.col("is_incumbent"))
        cur_id = inc.get_column("supplier_id")[0] if inc.height else grp.get_column("supplier_id")[-1]
    cur_rows = grp.filter(pl.col("supplier_id") == cur_id)
    if cur_rows.height == 0:
        raise SourcingInputError(f"current supplier {cur_id!r} does not supply {ingredient_id}")
    return cur_rows.row(0, named=True)


def _menu_line(grp: pl.DataFrame, m: MenuLine, cur: dict[str, Any],
               alloc: list[dict[str, Any]]) -> dict[str, Any]:
    """One menu line: the ingredient's suppliers in rank order, each filled up to its monthly capacity until
    the kg are covered (allocations appended to ``alloc``); kg nobody can cover stay with the current supplier."""
    need = m.kg_month
    alt_cost = alt_co2 = alt_score_kg = 0.0
    for r in grp.iter_rows(named=True):
        if need <= 1e-9:
            break
        take = min(need, float(r["capacity_kg_month"]))
        need -= take
        alt_cost += take * r["price_pen_kg"]
        alt_co2 += take * r["co2e_kg_per_kg"]
        alt_score_kg += take * r["sustainability_score"]
        alloc.append({"ingredient_id": m.ingredient_id, "supplier_id": r["supplier_id"], "name": r["name"],
                      "region": r["region"], "rank": r["rank"], "kg_month": take,
                      "price_pen_kg": r["price_pen_kg"], "co2e_kg_per_kg": r["co2e_kg_per_kg"],
                      "sustainability_score": r["sustainability_score"], "cost_pen": take * r["price_pen_kg"],
                      "co2e_kg": take * r["co2e_kg_per_kg"]})
    shortfall = max(0.0, need)
    if shortfall > 0:  # nobody else can supply it: it stays with the current supplier
        alt_cost += shortfall * cur["price_pen_kg"]
        alt_co2 += shortfall * cur["co2e_kg_per_kg"]
        alt_score_kg += shortfall * cur["sustainability_score"]
    cur_cost = m.kg_month * cur["price_pen_kg"]
    cur_co2 = m.kg_month * cur["co2e_kg_per_kg"]
    return {
        "ingredient_id": m.ingredient_id, "kg_month": m.kg_month,
        "current_supplier_id": cur["supplier_id"], "current_name": cur["name"],
        "current_cost_pen": cur_cost, "current_co2e_kg": cur_co2,
        "current_score": cur["sustainability_score"],
        "alt_cost_pen": alt_cost, "alt_co2e_kg": alt_co2, "alt_score": alt_score_kg / m.kg_month,
        "saving_pen": cur_cost - alt_cost, "saving_co2e_kg": cur_co2 - alt_co2, "shortfall_kg": shortfall,
    }


def _menu_totals(lines_df: pl.DataFrame) -> dict[str, float]:
    """Monthly totals of the menu, current against alternative; scores weighted by kg."""
    kg = float(lines_df["kg_month"].sum())
    totals = {
        "kg_month": kg,
        "current_cost_pen": float(lines_df["current_cost_pen"].sum()),
        "current_co2e_kg": float(lines_df["current_co2e_kg"].sum()),
        "alt_cost_pen": float(lines_df["alt_cost_pen"].sum()),
        "alt_co2e_kg": float(lines_df["alt_co2e_kg"].sum()),
        "current_score": float((lines_df["current_score"] * lines_df["kg_month"]).sum()) / kg,  # type: ignore[arg-type]
        "alt_score": float((lines_df["alt_score"] * lines_df["kg_month"]).sum()) / kg,  # type: ignore[arg-type]
    }
    totals["saving_pen"] = totals["current_cost_pen"] - totals["alt_cost_pen"]
    totals["saving_co2e_kg"] = totals["current_co2e_kg"] - totals["alt_co2e_kg"]
    totals["shortfall_kg"] = float(lines_df["shortfall_kg"].sum())
    return totals


def menu_plan(scored: pl.DataFrame, menu: MenuInput, weights: Mapping[str, object] | None = None,
              current: Mapping[str, str] | None = None) -> MenuPlan:
    """Current footprint and cost of a menu vs the best alternative supplier set under the weights.

    Current: each ingredient bought from its current supplier (``current`` or the ``is_incumbent``
    one). Alternative: the ingredient's suppliers in rank order, each filled up to its monthly
    capacity until the kg are covered; kg no supplier can cover stay with the current supplier
    (``shortfall_kg``). Savings are current − alternative (positive = the alternative saves).
    """
    if not menu.accepted:
        raise SourcingInputError("the menu has no valid lines (ingredient and kg per month > 0)")
    ranked = rank_suppliers(scored, weights, [m.ingredient_id for m in menu.accepted])
    cur_map = dict(current or {})
    lines: list[dict[str, Any]] = []
    alloc: list[dict[str, Any]] = []
    for m in menu.accepted:
        grp = ranked.filter(pl.col("ingredient_id") == m.ingredient_id)
        lines.append(_menu_line(grp, m, _current_supplier(grp, m.ingredient_id, cur_map), alloc))
    lines_df = pl.DataFrame(lines)
    return MenuPlan(lines_df, pl.DataFrame(alloc), _menu_totals(lines_df), list(menu.rejected))
