"""What the Traceability page shows for a query: the lot found, its journey, verification, recall, the sites."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.traceability.agro_chains import SITES
from analytics.traceability.lots import LotRef, LotView, lookup, lot_view
from analytics.traceability.mock_recall import recall
from analytics.traceability.verification import LotVerification, verify_lot


@dataclass(frozen=True)
class LotPage:
    """What the Traceability page shows for a query."""

    ref: LotRef  # the lot opened (the first match) and how the query found it
    candidates: list[LotRef]  # every lot the query matched
    view: LotView  # its journey
    verification: LotVerification  # its events checked against the ledger: verified | tampered | unverifiable
    recall: dict[str, Any]  # the mock recall: one step back, one step forward, mass balance (see mock_recall)
    sites: list[dict[str, Any]]  # every known site (name, lat, lon, kind), for the map's background


def page_view(data_dir: Path, query: str, gtin: str | None = None, *, ledger: Path | None = None,
              trust: Path | None = None, ledger_url: str | None = None) -> LotPage:
    """Everything the Traceability page shows for a query: the lot, its journey, verification, recall."""
    data_dir = Path(data_dir)
    refs = lookup(data_dir, query, gtin)
    ref = refs[0]
    view = lot_view(data_dir, ref.gtin, ref.lot)
    ver = verify_lot(data_dir, ref.gtin, ref.lot, ledger_dir=ledger, trust_dir=trust, ledger_url=ledger_url)
    rc = recall(data_dir, ref.gtin, ref.lot)
    sites = [{"name": s.name, "lat": s.lat, "lon": s.lon, "kind": s.kind} for s in SITES.values()]
    return LotPage(ref=ref, candidates=list(refs), view=view, verification=ver, recall=rc, sites=sites)
