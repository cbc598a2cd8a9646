"""Descriptive segment names from centroids, in Spanish and English.

Each candidate name has a score computed from a centroid in standard units of the core features
(r = recency, f = frequency, m = monetary, q = items per order, d = discount, t = tenure; 0 is the
average customer). Names are then assigned one-to-one so that the total score is highest
(Hungarian algorithm); when k exceeds the number of names, the best name is reused with a number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from analytics.segments.model import CORE_NAMES

Scores = Callable[[dict[str, float]], float]

# key -> (es, en, score over z = {"r","f","m","q","d","t"})
NAMES: dict[str, tuple[str, str, Scores]] = {
    "champions": ("Campeones", "Champions", lambda z: z["f"] + z["m"] + 0.5 * z["q"] - z["r"]),
    "loyal": ("Leales", "Loyal", lambda z: z["f"] + 0.5 * z["t"] - z["r"] - max(z["d"], 0.0)),
    "price_hunters": ("Cazadores de ofertas", "Price hunters", lambda z: 2.0 * z["d"]),
    "new": ("Nuevos", "New", lambda z: -2.0 * z["t"]),
    "at_risk": ("En riesgo", "At risk", lambda z: 1.2 * z["r"] + 0.3 * (z["f"] + z["m"])),
    "lost": ("Perdidos", "Lost", lambda z: z["r"] - 0.5 * (z["f"] + z["m"]) - 0.5),
    "occasional": ("Ocasionales", "Occasional", lambda z: -0.5 * (z["f"] + z["m"]) - 0.5 * abs(z["r"])),
    "big_baskets": ("Compras grandes", "Big baskets", lambda z: z["q"] - 0.5 * (z["f"] + z["m"])),
    "promising": ("Prometedores", "Promising", lambda z: -z["t"] + 0.5 * (z["f"] + z["m"])),
}
_SHORT = {"recency_days": "r", "orders": "f", "monetary_pen": "m", "avg_items": "q",
          "discount_mean_pct": "d", "tenure_days": "t"}


def name_segments(core_centroids: np.ndarray) -> list[dict[str, str]]:
    """One ``{"key", "es", "en"}`` per centroid row (rows in CORE_NAMES order of columns)."""
    from scipy.optimize import linear_sum_assignment  # loaded where segments are named, not with the pages

    keys = list(NAMES)
    zs = [{_SHORT[c]: float(row[j]) for j, c in enumerate(CORE_NAMES)} for row in core_centroids]
    score = np.array([[NAMES[key][2](z) for key in keys] for z in zs])
    k = len(zs)
    assigned: list[str | None] = [None] * k
    rows, cols = linear_sum_assignment(-score)
    for r, c in zip(rows, cols, strict=True):
        assigned[r] = keys[c]
    out: list[dict[str, str]] = []
    extra: dict[str, int] = {}
    number: dict[int, int] = {}
    for i in np.argsort(-score.max(axis=1)):  # leftover clusters: best-scoring first gets "2"
        i = int(i)
        if assigned[i] is None:
            key = keys[int(np.argmax(score[i]))]
            extra[key] = extra.get(key, 1) + 1
            assigned[i], number[i] = key, extra[key]
    for i in range(k):
        key = assigned[i] or "occasional"
        es, en, _ = NAMES[key]
        if i in number:
            es, en = f"{es} {number[i]}", f"{en} {number[i]}"
        out.append({"key": key, "es": es, "en": en})
    return out
