"""Segmentation runs: features -> k sweep -> named segments, profiles, PCA sample, movement, export.

A run over many customers and many k is the slow part, so ``run_sweep`` results are cached in
diskcache (``<cache_dir>/segments``) keyed by the orders file version and every input that changes
the result (period, regions, seed); changing k afterwards is instant.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics import storage
from analytics.datadir import CacheDir
from analytics.engine import Engine
from analytics.queries import OrderFilter
from analytics.segments.features import SegmentInputError, category_columns, customer_features
from analytics.segments.model import (
    CORE,
    K_MAX,
    K_MIN,
    SILHOUETTE_SAMPLE,
    Scaling,
    SweepPoint,
    check_k,
    design_matrix,
    pca_2d,
    sample_index,
    suggest_k,
    sweep,
)
from analytics.segments.naming import name_segments

Progress = Callable[[str, float], None]
CACHE_VERSION = 3  # bump when the features or the model change
PCA_SAMPLE = 3000
NONE_KEY = "none"  # movement node for "no orders in that period"
NONE_NAMES = {"es": "Sin compras", "en": "No purchases"}


@dataclass(frozen=True)
class SegmentParams:
    """Every input of a segmentation run; empty regions mean all."""

    k: int = 6
    seed: int = 0
    start: date | None = None
    end: date | None = None
    regions: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_k(self.k)
        if self.start and self.end and self.start > self.end:
            raise SegmentInputError(f"period start {self.start} is after its end {self.end}")
        object.__setattr__(self, "regions", tuple(sorted(set(self.regions))))

    def order_filter(self) -> OrderFilter:
        return OrderFilter(start=self.start, end=self.end, regions=self.regions)


@dataclass
class Sweep:
    features: pl.DataFrame
    scaling: Scaling
    points: list[SweepPoint]
    suggested_k: int

    def point(self, k: int) -> SweepPoint:
        for p in self.points:
            if p.k == k:
                return p
        raise SegmentInputError(f"k = {k} needs more customers than this selection has ({self.features.height})")


@dataclass
class SegmentResult:
    params: SegmentParams
    k: int
    suggested_k: int
    silhouette: float
    curves: pl.DataFrame  # k, inertia, silhouette
    names: list[dict[str, str]]  # per label: key, es, en
    members: pl.DataFrame  # customer_id, label, features...
    profile: pl.DataFrame  # one row per label
    pca: pl.DataFrame  # customer_id, label, pc1, pc2 (a sample)
    pca_variance: tuple[float, float]

    def name(self, label: int, lang: str = "es") -> str:
        return self.names[label]["en" if lang == "en" else "es"]

    def sizes(self, lang: str = "en") -> dict[str, int]:
        return {self.name(int(r["label"]), lang): int(r["customers"]) for r in self.profile.iter_rows(named=True)}


# ---------------------------------------------------------------------------- caching

def _fingerprint(engine: Engine) -> str | None:
    data_dir = getattr(engine, "data_dir", None)
    if data_dir is None:
        return None
    path = storage.table_path(data_dir, "orders")
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SegmentInputError(f"no orders table in {data_dir} (run `python app.py generate`)") from None
    return f"{engine.name}:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def cache_key(engine: Engine, params: SegmentParams, kind: str = "sweep", **extra: Any) -> str | None:
    fp = _fingerprint(engine)
    if fp is None:
        return None
    payload = {"v": CACHE_VERSION, "kind": kind, "data": fp, "start": str(params.start), "end": str(params.end),
               "regions": list(params.regions), "seed": params.seed, **{k: str(v) for k, v in extra.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _cache(cache_dir: Path | None) -> Any:
    if cache_dir is None:
        return None
    from analytics.shared_cache import open_cache

    return open_cache(CacheDir(Path(cache_dir)).segments, size_limit=2**30)


# ---------------------------------------------------------------------------- runs

def run_sweep(engine: Engine, params: SegmentParams, cache_dir: Path | None = None,
              progress: Progress | None = None, ks: Sequence[int] = tuple(range(K_MIN, K_MAX + 1))) -> Sweep:
    """Features for the selection and k-means for every k in ``ks`` (cached by inputs)."""
    report = progress or (lambda label, frac: None)
    key = cache_key(engine, params, ks=tuple(ks))
    cache = _cache(cache_dir) if key else None
    if cache is not None:
        with cache:
            hit = cache.get(key)
        if hit is not None:
            report("cache", 1.0)
            return hit
    report("features", 0.02)
    feats = customer_features(engine, params.order_filter())
    if feats.height <= K_MIN:
        raise SegmentInputError(f"only {feats.height} customers with orders in this selection; "
                                f"segmentation needs at least {K_MIN + 1}")
    X, scaling = design_matrix(feats)
    report("k-means", 0.1)
    points = sweep(X, ks, seed=params.seed, progress=lambda label, f: report(label, 0.1 + 0.85 * f))
    result = Sweep(feats, scaling, points, suggest_k(points))
    if cache is not None:
        with cache:
            cache.set(key, result)
    report("done", 1.0)
    return result


def _profile(members: pl.DataFrame, names: list[dict[str, str]]) -> pl.DataFrame:
    cats = category_columns(members)
    total_rev = float(members["monetary_pen"].sum()) or 1.0
    n_all = members.height
    prof = members.group_by("label").agg(
        pl.len().alias("customers"),
        pl.col("monetary_pen").sum().alias("revenue_pen"),
        pl.col("orders").sum().alias("orders_total"),
        pl.col("orders").mean().alias("frequency"),
        pl.col("recency_days").median().alias("recency_days"),
        pl.col("tenure_days").median().alias("tenure_days"),
        pl.col("avg_items").mean().alias("avg_items"),
        pl.col("discount_mean_pct").mean().alias("discount_pct"),
        ((pl.col("late_share") * pl.col("orders")).sum() / pl.col("orders").sum()).alias("late_share"),
        pl.col("region").drop_nulls().mode().sort().first().alias("top_region"),
        *[(pl.col(c) * pl.col("orders")).sum().alias(c) for c in cats],
    ).with_columns(
        (pl.col("customers") / n_all).alias("share"),
        (pl.col("revenue_pen") / total_rev).alias("revenue_share"),
        (pl.col("revenue_pen") / pl.col("orders_total")).alias("aov_pen"),
    )
    if cats:
        cat_names = [c.removeprefix("cat_") for c in cats]
        top = prof.select(cats).to_numpy().argmax(axis=1)
        prof = prof.with_columns(pl.Series("top_category", [cat_names[i] for i in top])).drop(cats)
    else:
        prof = prof.with_columns(pl.lit(None, pl.String).alias("top_category"))
    prof = prof.with_columns(
        pl.col("label").map_elements(lambda i: names[i]["key"], return_dtype=pl.String).alias("segment_key"),
        pl.col("label").map_elements(lambda i: names[i]["es"], return_dtype=pl.String).alias("segment_es"),
        pl.col("label").map_elements(lambda i: names[i]["en"], return_dtype=pl.String).alias("segment_en"),
    )
    cols = ["label", "segment_key", "segment_es", "segment_en", "customers", "share", "revenue_pen", "revenue_share",
            "aov_pen", "frequency", "recency_days", "tenure_days", "avg_items", "discount_pct", "top_category",
            "top_region", "late_share"]
    return prof.select(cols).sort("revenue_pen", descending=True)


def summarize(sw: Sweep, params: SegmentParams) -> SegmentResult:
    """Name, profile and project the segments of ``sw`` at ``params.k``."""
    pt = sw.point(params.k)
    X = sw.scaling.transform(sw.features)
    core_w = sw.scaling.weight[: len(CORE)]
    names = name_segments(pt.centers[:, : len(CORE)] / core_w)
    members = sw.features.with_columns(pl.Series("label", pt.labels, dtype=pl.Int32))
    profile = _profile(members, names)
    idx = sample_index(len(X), PCA_SAMPLE, params.seed)
    coords, var = pca_2d(X, idx, params.seed)
    pca = pl.DataFrame({"customer_id": members["customer_id"].gather(idx), "label": pt.labels[idx],
                        "pc1": coords[:, 0], "pc2": coords[:, 1]})
    curves = pl.DataFrame({"k": [p.k for p in sw.points], "inertia": [p.inertia for p in sw.points],
                           "silhouette": [p.silhouette for p in sw.points]})
    return SegmentResult(params, params.k, sw.suggested_k, pt.silhouette, curves, names, members, profile, pca,
                         (float(var[0]), float(var[1])))


def segment(engine: Engine, params: SegmentParams, cache_dir: Path | None = None,
            progress: Progress | None = None) -> SegmentResult:
    """The page's run: sweep k = 2..10 (cached), then the segments at ``params.k``."""
    return summarize(run_sweep(engine, params, cache_dir, progress), params)


def segment_one_k(engine: Engine, params: SegmentParams, progress: Progress | None = None) -> SegmentResult:
    """A single k (the CLI): features, k-means at ``params.k``, silhouette on a sample."""
    report = progress or (lambda label, frac: None)
    feats = customer_features(engine, params.order_filter())
    if feats.height <= params.k:
        raise SegmentInputError(f"only {feats.height} customers with orders; k = {params.k} needs more")
    X, scaling = design_matrix(feats)
    report("k-means", 0.3)
    points = sweep(X, [params.k], seed=params.seed)
    return summarize(Sweep(feats, scaling, points, params.k), params)


def members_csv(result: SegmentResult, label: int | None, lang: str = "es") -> str:
    """CSV of the members of one segment (``label``) or of all segments (None)."""
    m = result.members
    if label is not None:
        if not 0 <= label < result.k:
            raise SegmentInputError(f"no segment {label} (k = {result.k})")
        m = m.filter(pl.col("label") == label)
    names = [result.name(i, lang) for i in range(result.k)]
    out = m.with_columns(pl.col("label").map_elements(lambda i: names[i], return_dtype=pl.String).alias("segment"))
    from analytics.csv_export import frame_csv

    return frame_csv(out.select("customer_id", "segment", "region", "orders", "monetary_pen", "avg_order_value_pen",
                                "recency_days", "tenure_days", "discount_mean_pct", "late_share"))


def movement(engine: Engine, params: SegmentParams, compare_end: date, cache_dir: Path | None = None,
             progress: Progress | None = None) -> pl.DataFrame:
    """How customers moved between segments from an earlier snapshot to the current one.

    The current segmentation (``params``) is fitted as on the page; the earlier snapshot is the same
    selection ending at ``compare_end`` and is assigned to the *same* centroids (same scaling), so a
    segment means the same thing on both sides. Customers with no orders in one of the two windows
    flow from/to ``NONE_KEY``. Returns from_label, to_label (-1 = none) and customers.
    """
    cur = run_sweep(engine, params, cache_dir, progress)
    pt = cur.point(params.k)
    if params.start is not None and compare_end < params.start:
        raise SegmentInputError(f"comparison date {compare_end} is before the period start {params.start}")
    if params.end is not None and compare_end >= params.end:
        raise SegmentInputError(f"comparison date {compare_end} must be before the period end {params.end}")
    earlier = OrderFilter(start=params.start, end=compare_end, regions=params.regions)
    feats_a = customer_features(engine, earlier, reference_date=compare_end)
    if feats_a.height:
        from sklearn.metrics import pairwise_distances_argmin

        Xa = cur.scaling.transform(feats_a)
        la = pairwise_distances_argmin(Xa, pt.centers).astype(np.int32)
    else:
        la = np.zeros(0, np.int32)
    a = pl.DataFrame({"customer_id": feats_a["customer_id"], "from_label": la}, schema_overrides={"from_label": pl.Int32})
    b = pl.DataFrame({"customer_id": cur.features["customer_id"], "to_label": pt.labels},
                     schema_overrides={"to_label": pl.Int32})
    both = a.join(b, on="customer_id", how="full", coalesce=True).with_columns(
        pl.col("from_label").fill_null(-1), pl.col("to_label").fill_null(-1))
    return (both.group_by("from_label", "to_label").agg(pl.len().alias("customers"))
            .sort("from_label", "to_label"))


@dataclass
class PageView:
    result: SegmentResult
    flows: pl.DataFrame | None  # movement(); None when there is no earlier snapshot to compare
    compare_end: date | None


def default_compare_end(params: SegmentParams, last: date | None) -> date | None:
    """One year before the end of the period (the earlier snapshot of the Sankey)."""
    end = params.end or last
    if end is None:
        return None
    try:
        cand = end.replace(year=end.year - 1)
    except ValueError:  # 29 February
        cand = end.replace(year=end.year - 1, day=28)
    return cand if params.start is None or cand > params.start else None


def page_view(engine: Engine, params: SegmentParams, compare_end: date | None = None,
              cache_dir: Path | None = None, progress: Progress | None = None) -> PageView:
    """Everything the Segments page shows: segments at k (sweep cached) and the movement flows."""
    report = progress or (lambda label, frac: None)
    result = segment(engine, params, cache_dir, lambda label, f: report(label, 0.9 * f))
    if compare_end is None:
        last = result.members["last_order"].max()
        compare_end = default_compare_end(params, last if isinstance(last, date) else None)
    flows = None
    if compare_end is not None:
        report("movement", 0.95)
        flows = movement(engine, params, compare_end, cache_dir)
    report("done", 1.0)
    return PageView(result, flows, compare_end)


def export_members(engine: Engine, params: SegmentParams, label: int | None, lang: str = "es",
                   cache_dir: Path | None = None) -> str:
    """CSV of one segment's members (or all, label None) for the current selection."""
    return members_csv(segment(engine, params, cache_dir), label, lang)


@dataclass(frozen=True)
class RegionCustomers:
    code: str
    name: str
    customers: int  # distinct customers with orders there


@dataclass(frozen=True)
class FilterOptions:
    """The Segments page's filter choices: regions present in the orders and the order date range."""

    regions: list[RegionCustomers]
    start: date | None
    end: date | None


def filter_options(engine: Engine) -> FilterOptions:
    """Regions present in the orders (code, name, customers) and the order date range."""
    import narwhals as nw

    from analytics import geo
    from analytics.queries import date_bounds

    lf = engine.table("orders")
    regs = engine.collect(lf.group_by("region").agg(nw.col("customer_id").n_unique().alias("customers"))
                          .sort("region"))
    regions = [RegionCustomers(r, geo.REGION_BY_CODE[r].name if r in geo.REGION_BY_CODE else str(r), int(n))
               for r, n in zip(regs["region"].to_list(), regs["customers"].to_list(), strict=True) if r is not None]
    lo, hi = date_bounds(engine)  # the per-day summary: no second pass over the orders
    return FilterOptions(regions, lo, hi)


def silhouette_full(X: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette on every point (the slow reference used by the benchmark)."""
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(X, labels))


__all__ = ["NONE_KEY", "NONE_NAMES", "SILHOUETTE_SAMPLE", "FilterOptions", "PageView", "RegionCustomers",
           "SegmentParams", "SegmentResult", "Sweep",
           "export_members", "filter_options", "page_view",
           "members_csv", "movement", "run_sweep", "segment", "segment_one_k", "summarize"]
