"""Week-level calendar facts the demand models use: retail peaks, rainy season, disruption episodes.

Public record only (never the demo generator): Cyber Wow editions
(:data:`analytics.geo.CYBER_WOW`, the copy every module reads), Fiestas Patrias (20-31 July), the
Christmas shopping weeks (10-24 December), the Andean rainy season (December to April) and the
disruption episodes of :data:`analytics.geo.DISRUPTIONS`. Every figure is a share of the week's
seven days, so a peak that straddles two weeks counts in both in proportion.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from analytics import geo
from analytics.geo import CYBER_WOW

RAINY_MONTHS = (12, 1, 2, 3, 4)
CALENDAR_FEATURES: tuple[str, ...] = (
    "week_of_year", "month", "cyber_share", "fiestas_share", "christmas_share", "rainy_share", "new_year_share",
)

_CYBER_DAYS: frozenset[date] = frozenset(
    date.fromisoformat(a) + timedelta(days=i)
    for a, b in CYBER_WOW
    for i in range((date.fromisoformat(b) - date.fromisoformat(a)).days + 1)
)


def _days(week_start: date) -> list[date]:
    return [week_start + timedelta(days=i) for i in range(7)]


def week_calendar(week_start: date) -> dict[str, float]:
    """Calendar features of the week starting on ``week_start`` (see CALENDAR_FEATURES)."""
    days = _days(week_start)
    mid = week_start + timedelta(days=3)
    return {
        "week_of_year": float(mid.isocalendar()[1]),
        "month": float(mid.month),
        "cyber_share": sum(d in _CYBER_DAYS for d in days) / 7.0,
        "fiestas_share": sum(d.month == 7 and d.day >= 20 for d in days) / 7.0,
        "christmas_share": sum(d.month == 12 and 10 <= d.day <= 24 for d in days) / 7.0,
        "rainy_share": sum(d.month in RAINY_MONTHS for d in days) / 7.0,
        "new_year_share": sum((d.month == 12 and d.day >= 25) or (d.month == 1 and d.day <= 3) for d in days) / 7.0,
    }


@lru_cache(maxsize=64)
def calendar_matrix(first_week: date, n_weeks: int) -> np.ndarray:
    """[n_weeks, len(CALENDAR_FEATURES)] for consecutive weeks from ``first_week`` (may reach the future).
    Cached and read-only."""
    out = np.empty((n_weeks, len(CALENDAR_FEATURES)))
    for i in range(n_weeks):
        cal = week_calendar(first_week + timedelta(days=7 * i))
        out[i] = [cal[c] for c in CALENDAR_FEATURES]
    out.flags.writeable = False
    return out


def dc_region(dc_id: str) -> str | None:
    """ISO region of a distribution centre; None for an origin that is not a Chasqui DC (DataCo markets)."""
    dc = geo.DC_BY_ID.get(dc_id)
    return dc.region if dc is not None else None


@lru_cache(maxsize=1024)
def disruption_share(dc_id: str, first_week: date, n_weeks: int) -> np.ndarray:
    """[n_weeks] share of each week's days on which a public disruption episode covered the DC's region.
    Cached and read-only."""
    region = dc_region(dc_id)
    out = np.zeros(n_weeks)
    if region is None:
        out.flags.writeable = False
        return out
    spells = [(date.fromisoformat(e["start"]), date.fromisoformat(e["end"])) for e in geo.DISRUPTIONS
              if region in e["regions"]]
    for i in range(n_weeks):
        days = _days(first_week + timedelta(days=7 * i))
        out[i] = sum(any(a <= d <= b for a, b in spells) for d in days) / 7.0
    out.flags.writeable = False
    return out


__all__ = ["CALENDAR_FEATURES", "RAINY_MONTHS", "calendar_matrix", "dc_region", "disruption_share", "week_calendar"]
