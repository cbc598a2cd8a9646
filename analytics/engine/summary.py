"""``Summary``: one pass over a table into a small frame of additive aggregates (see ``Engine.summary``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import narwhals as nw


@dataclass(frozen=True)
class Summary:
    """One pass over ``table``: group by ``keys``, aggregate with ``aggs`` (named narwhals expressions whose
    results can be added up again: counts, sums, min, max). Identified by a digest of all three."""

    table: str
    keys: tuple[str, ...]
    aggs: tuple[nw.Expr, ...]

    @property
    def digest(self) -> str:
        text = "\n".join([self.table, *self.keys, *(repr(a) for a in self.aggs)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def query(self, lf: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        return lf.group_by(*self.keys).agg(*self.aggs)


__all__ = ["Summary"]
