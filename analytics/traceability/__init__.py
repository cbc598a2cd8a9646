"""Traceability: agro lots, EPCIS 2.0 events anchored in a Merkle log, verification and mock recall.

Submodules: ``agro_chains`` (real crops, sites, ports abroad, buyers), ``demo_lots`` (demo lots and their EPCIS
journeys to the buyers, reefer voyages included), ``store`` (tables and ledger anchoring), ``epcis_import`` (document import and its CLI), ``lots``
(look-up and a lot's journey), ``verification`` (against the ledger), ``mock_recall`` (one step back, one
forward, mass balance), ``exports`` (FSMA 204 and recall files), ``lot_page`` (what the page shows for a query).
Importing this package is cheap: it imports no submodule (``analytics.schemas`` imports ``schemas`` from here).
"""
