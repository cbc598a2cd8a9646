"""K-means model, suggested k and segment names on hand-made customers with known RFM values."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from analytics.segments.features import SegmentInputError, features_from_frame
from analytics.segments.model import SegmentModel, SweepPoint, check_k, design_matrix, suggest_k, sweep
from analytics.segments.naming import name_segments
from analytics.segments.segmentation import SegmentParams, Sweep, members_csv, summarize
from tests.fixtures.segments import make_orders

END = date(2024, 12, 31)


def group(prefix: str, n: int, rng: np.random.Generator, *, orders: int, spacing: int, last_ago: int,
          amount: float, discount: float, quantity: int = 1) -> list[dict]:
    out = []
    for i in range(n):
        m = max(1, orders + int(rng.integers(-1, 2)))
        last = END - timedelta(days=last_ago + int(rng.integers(0, 10)))
        dates = [last - timedelta(days=spacing * j) for j in range(m)][::-1]
        out.append({"id": f"{prefix}{i:03d}", "dates": dates, "amount": amount * float(rng.uniform(0.8, 1.2)),
                    "discount": discount + float(rng.uniform(-1, 1)), "quantity": quantity})
    return out


@pytest.fixture(scope="module")
def planted() -> tuple[pl.DataFrame, np.ndarray]:
    """Four groups of 40 customers with clearly different RFM and discount behaviour."""
    rng = np.random.default_rng(3)
    spec = (group("CH", 40, rng, orders=40, spacing=20, last_ago=3, amount=900, discount=3, quantity=3)
            + group("PH", 40, rng, orders=15, spacing=40, last_ago=10, amount=120, discount=30)
            + group("LO", 40, rng, orders=6, spacing=60, last_ago=700, amount=150, discount=6)
            + group("NW", 40, rng, orders=3, spacing=20, last_ago=5, amount=150, discount=8))
    f = features_from_frame(make_orders(spec), reference_date=END)
    truth = np.array([cid[:2] for cid in f["customer_id"].to_list()])
    return f, truth


def test_kmeans_recovers_planted_groups_and_names_them(planted):
    f, truth = planted
    m = SegmentModel(k=4, seed=0).fit(f)
    assert adjusted_rand_score(truth, m.labels_) == 1.0
    names = name_segments(m.core_centroids())
    by_group = {g: names[int(np.bincount(m.labels_[truth == g]).argmax())]["en"] for g in ("CH", "PH", "LO", "NW")}
    assert by_group == {"CH": "Champions", "PH": "Price hunters", "LO": "Lost", "NW": "New"}
    es = {names[i]["key"]: names[i]["es"] for i in range(4)}
    assert es["champions"] == "Campeones" and es["price_hunters"] == "Cazadores de ofertas"
    # predict() puts the training customers back in their own segment
    assert (m.predict(f) == m.labels_).all()


def test_estimator_contract_and_bad_k(planted):
    f, _ = planted
    with pytest.raises(RuntimeError, match="not fitted"):
        SegmentModel(k=3).predict(f)
    for bad in (1, 11, 2.5, "6", True):
        with pytest.raises(SegmentInputError):
            check_k(bad)
    with pytest.raises(SegmentInputError, match="fewer than k"):
        SegmentModel(k=5).fit(f.head(4))
    with pytest.raises(SegmentInputError, match="no customers"):
        SegmentModel(k=2).fit(f.head(0))


def test_sweep_curves_and_suggested_k(planted):
    f, _ = planted
    X, _ = design_matrix(f)
    pts = sweep(X, range(2, 11), seed=0)
    assert [p.k for p in pts] == list(range(2, 11))
    inertia = [p.inertia for p in pts]
    assert all(a >= b for a, b in zip(inertia, inertia[1:]))  # more segments never fit worse
    sil = {p.k: p.silhouette for p in pts}
    assert max(sil, key=sil.get) == 4  # four planted groups
    assert suggest_k(pts) == 4


def test_suggest_k_rule():
    def pts(inertia, sil):
        return [SweepPoint(k, i, s, np.zeros(1), np.zeros((1, 1))) for k, i, s in zip(range(2, 11), inertia, sil)]

    # elbow at 4 (next k gains < 15%), silhouette close to the best: the elbow
    assert suggest_k(pts([100, 60, 30, 27, 25, 24, 23, 22, 21], [.3, .4, .5, .52, .5, .4, .4, .4, .4])) == 4
    # elbow at 3 but its silhouette is far below the best (k = 6): the best silhouette
    assert suggest_k(pts([100, 60, 55, 50, 46, 43, 41, 40, 39], [.2, .3, .4, .5, .6, .4, .4, .4, .4])) == 6


def test_names_are_unique_even_when_k_exceeds_the_name_list():
    rng = np.random.default_rng(0)
    names = name_segments(rng.normal(size=(10, 6)))
    assert len({n["en"] for n in names}) == 10 and len({n["es"] for n in names}) == 10


def test_members_csv_exports_every_customer_once(planted):
    f, _ = planted
    X, scaling = design_matrix(f)
    res = summarize(Sweep(f, scaling, sweep(X, [4], seed=0), 4), SegmentParams(k=4))
    all_csv = pl.read_csv(members_csv(res, None, "es").encode())
    assert all_csv.height == f.height == all_csv["customer_id"].n_unique()
    parts = [pl.read_csv(members_csv(res, i, "en").encode()) for i in range(4)]
    assert sum(p.height for p in parts) == f.height
    assert sorted(pl.concat(parts)["customer_id"].to_list()) == sorted(f["customer_id"].to_list())
    assert set(parts[0]["segment"]) == {res.name(0, "en")}
    with pytest.raises(SegmentInputError):
        members_csv(res, 7, "es")
    # profile: sizes, revenue shares
    prof = res.profile
    assert prof["customers"].sum() == f.height
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    champ = prof.filter(pl.col("segment_key") == "champions").row(0, named=True)
    assert champ["customers"] == 40 and champ["revenue_share"] > 0.8
    assert champ["aov_pen"] == pytest.approx(
        f.filter(pl.col("customer_id").str.starts_with("CH"))["monetary_pen"].sum()
        / f.filter(pl.col("customer_id").str.starts_with("CH"))["orders"].sum())
