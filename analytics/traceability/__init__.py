"""Traceability: agro lots, EPCIS 2.0 events anchored in a Merkle log, verification and mock recall."""

from __future__ import annotations

from analytics.traceability.core import (
    LotNotFound,
    cli_import,
    fsma204_rows,
    import_epcis,
    lookup,
    lot_view,
    recall,
    verify_lot,
    write_fsma204,
)

__all__ = [
    "LotNotFound",
    "cli_import",
    "fsma204_rows",
    "import_epcis",
    "lookup",
    "lot_view",
    "recall",
    "verify_lot",
    "write_fsma204",
]
