"""Number, money and date formatting for es-PE and en."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

LIMA = ZoneInfo("America/Lima")
MONTHS_ES = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "set", "oct", "nov", "dic")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _num(x: float, decimals: int) -> str:
    # Peru writes 1,234.50 (comma thousands, point decimals), the same as English.
    return f"{x:,.{decimals}f}"


def soles(x: float | None, decimals: int = 2) -> str:
    """Money in soles: ``S/ 1,234.50``; negative as ``-S/ 12.00``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    sign = "-" if x < 0 else ""
    return f"{sign}S/ {_num(abs(x), decimals)}"


def soles_compact(x: float | None) -> str:
    """Large amounts: ``S/ 12.3 M``, ``S/ 845.2 mil``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    a = abs(x)
    sign = "-" if x < 0 else ""
    if a >= 1e6:
        return f"{sign}S/ {a / 1e6:,.1f} M"
    if a >= 1e3:
        return f"{sign}S/ {a / 1e3:,.1f} mil"
    return soles(x)


def integer(x: float | None) -> str:
    return "—" if x is None else _num(float(x), 0)


def pct(x: float | None, decimals: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:.{decimals}f}%"


def number(x: float | None, decimals: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return _num(float(x), decimals)


def lima_datetime(ts: datetime, lang: str = "es") -> str:
    """A timestamp shown in Lima time, e.g. ``23 nov 2026, 14:05``."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=LIMA)
    ts = ts.astimezone(LIMA)
    months = MONTHS_ES if lang == "es" else MONTHS_EN
    return f"{ts.day} {months[ts.month - 1]} {ts.year}, {ts:%H:%M}"


def day(d: date, lang: str = "es") -> str:
    months = MONTHS_ES if lang == "es" else MONTHS_EN
    return f"{d.day} {months[d.month - 1]} {d.year}"


def month_label(d: date, lang: str = "es") -> str:
    months = MONTHS_ES if lang == "es" else MONTHS_EN
    return f"{months[d.month - 1]} {d.year}"
