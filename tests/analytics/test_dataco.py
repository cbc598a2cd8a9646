"""`import dataco`: mapping, encodings, Peru keys, and nothing lost: A + Q == N."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from analytics.dataco import import_dataco, peru_region
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "fixtures" / "dataco_sample.csv"


def _rows() -> tuple[list[str], list[dict[str, str]]]:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        r = csv.DictReader(fh)
        return list(r.fieldnames or []), list(r)


def _write(path: Path, header: list[str], rows: list[dict[str, str]], delimiter: str = ",",
           encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, delimiter=delimiter)
    w.writeheader()
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def test_sample_imports_completely(tmp_path):
    res = import_dataco(SAMPLE, tmp_path, fx_usd_pen=3.3)
    assert (res.rows_in, res.imported, res.quarantined) == (40, 40, 0)
    orders = pl.read_parquet(tmp_path / "orders.parquet")
    assert orders.height == 40
    pe = orders.filter(pl.col("country") == "PE")
    assert set(pe["region"].unique()) == {"PE-LIM", "PE-ARE", "PE-CUS", "PE-JUN", "PE-PIU", "PE-LAL"}
    # non-Peru geography kept as it is
    assert {"Estados Unidos", "México", "Francia"} <= set(orders["country"].unique())
    assert "California" in set(orders["region"].unique())
    # amounts: Sales (USD) × 3.30, first row 59.99 × 1
    _, rows = _rows()
    first = orders.filter(pl.col("order_id") == f"{rows[0]['Order Id']}-{rows[0]['Order Item Id']}")
    assert first["amount_pen"][0] == pytest.approx(round(float(rows[0]["Sales"]) * 3.3, 2))
    assert (orders["is_late"] == (orders["actual_days"] > orders["promised_days"])).all()
    assert orders["created_at"].dtype == pl.Datetime("us", "America/Lima")
    customers = pl.read_parquet(tmp_path / "customers.parquet")
    assert customers["customer_id"].n_unique() == customers.height == 15


def test_latin1_and_utf8_give_the_same_rows(tmp_path):
    header, rows = _rows()
    utf = import_dataco(_write(tmp_path / "u.csv", header, rows), tmp_path / "u")
    lat = import_dataco(_write(tmp_path / "l.csv", header, rows, encoding="latin-1"), tmp_path / "l")
    assert lat.encoding == "latin-1" and utf.encoding == "utf-8"
    a = pl.read_parquet(tmp_path / "u" / "orders.parquet")
    b = pl.read_parquet(tmp_path / "l" / "orders.parquet")
    assert a.equals(b)
    assert "Junín" not in a["region"].to_list() and "PE-JUN" in a["region"].to_list()


def test_semicolon_delimiter_is_detected(tmp_path):
    header, rows = _rows()
    res = import_dataco(_write(tmp_path / "s.csv", header, rows, delimiter=";"), tmp_path / "s")
    assert res.delimiter == ";" and res.imported == 40


def test_malformed_rows_are_quarantined_with_reasons(tmp_path):
    header, rows = _rows()
    bad = [dict(r) for r in rows[:8]]
    bad[0]["order date (DateOrders)"] = "31/31/2018 25:99"
    bad[1]["Sales"] = "-10.5"
    bad[2]["Order Id"] = ""
    bad[3]["Order Item Quantity"] = "abc"
    bad[4]["Shipping Mode"] = "Teleport"
    bad[5]["Order State"] = "Atlantis"  # country Perú, not a department
    bad[6]["Days for shipping (real)"] = "-1"
    good = rows[8:]
    path = _write(tmp_path / "m.csv", header, bad + good)
    # one short line (wrong field count) and one duplicate line appended by hand
    with path.open("a", encoding="utf-8") as fh:
        fh.write("DEBIT,1,2\n")
        w = csv.DictWriter(fh, fieldnames=header)
        w.writerow(good[0])
    res = import_dataco(path, tmp_path / "m")
    assert res.rows_in == 8 + len(good) + 2
    assert res.imported + res.quarantined == res.rows_in
    assert res.quarantined == 7 + 2  # bad[7] is valid
    q = list(csv.DictReader(open(res.quarantine_file, encoding="utf-8")))
    reasons = {int(r["row_number"]): r["reason"] for r in q}
    assert "unparseable date" in reasons[1]
    assert "negative amount" in reasons[2]
    assert "missing id" in reasons[3]
    assert "not a number" in reasons[4]
    assert "Shipping Mode" in reasons[5]
    assert "not a department of Peru" in reasons[6]
    assert "negative" in reasons[7]
    assert "expected 53 fields, got 3" in reasons[len(rows) + 1]
    assert "duplicate order line" in reasons[len(rows) + 2]


def test_wrong_delimiter_loses_nothing(tmp_path):
    header, rows = _rows()
    # a file whose header is not DataCo at all: every row quarantined, none dropped
    path = tmp_path / "x.csv"
    path.write_text("a|b|c\n1|2|3\n4|5|6\n", encoding="utf-8")
    res = import_dataco(path, tmp_path / "x")
    assert (res.rows_in, res.imported, res.quarantined) == (2, 0, 2)
    assert res.error and "required columns" in res.error
    assert not (tmp_path / "x" / "orders.parquet").exists()


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    res = import_dataco(path, tmp_path / "e")
    assert (res.rows_in, res.imported, res.quarantined) == (0, 0, 0)
    assert "empty" in (res.error or "")


def test_peru_names():
    assert peru_region("Cuzco") == "PE-CUS"
    assert peru_region("JUNIN") == "PE-JUN"
    assert peru_region("Áncash") == "PE-ANC"
    assert peru_region("Lima Metropolitana") == "PE-LIM"
    assert peru_region("Ohio") is None


def test_cli_prints_one_json_line(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "app.py"), "import", "dataco", str(SAMPLE), "--data-dir",
                          str(tmp_path)], capture_output=True, text=True, check=True, cwd=ROOT)
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["rows_in"] == payload["imported"] + payload["quarantined"] == 40
    assert Path(payload["quarantine_file"]).exists()
