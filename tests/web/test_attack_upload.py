"""Upload blow-up: a small CSV of millions of empty rows used gigabytes and wrote a quarantine file of hundreds
of megabytes. The DataCo import now streams in bounded memory, keeps the counts exact and caps the quarantine
files (the first rows in full, a sample of the rest); the upload's answer names no absolute path."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from analytics import storage
from analytics.datadir import DataDir
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "fixtures" / "dataco_sample.csv"
EMPTY_ROWS = 2_000_000

IMPORT = """
import json, resource, sys
from analytics.dataco import import_dataco
r = import_dataco(sys.argv[1], sys.argv[2]).as_json()
r["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(r))
"""

BASELINE = """
import json, resource
import analytics.dataco  # the same imports, no work: what the interpreter and polars cost anyway
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def blowup_csv(tmp_path_factory) -> Path:
    """The fixture's 40 real rows, then two million empty rows (``,`` lines): about 4 MB."""
    path = tmp_path_factory.mktemp("blowup") / "DataCoSupplyChainDataset.csv"
    with path.open("wb") as fh:
        fh.write(SAMPLE.read_bytes().rstrip(b"\n") + b"\n")
        fh.write(b",\n" * EMPTY_ROWS)
    return path


def test_millions_of_empty_rows_import_in_bounded_memory_with_exact_counts(blowup_csv, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    out = _run(IMPORT, str(blowup_csv), str(data))
    base = _run(BASELINE)
    real_rows = len(SAMPLE.read_text(encoding="latin-1").splitlines()) - 1
    assert out["rows_in"] == real_rows + EMPTY_ROWS
    assert out["imported"] + out["quarantined"] == out["rows_in"]
    assert out["quarantined"] >= EMPTY_ROWS and out["imported"] >= real_rows - 5
    # memory: what the interpreter and polars cost anyway plus a bounded working set, not gigabytes
    assert out["peak_mb"] - base["peak_mb"] < 250, (out["peak_mb"], base["peak_mb"])
    # the quarantine files are capped: the first rows in full and a sample of the rest, with exact counts
    layout = DataDir(data)
    qcsv = layout.dataco_rejects
    assert qcsv.stat().st_size < 1_000_000
    kept = list(pl.read_csv(qcsv, infer_schema_length=0)["row_number"].cast(pl.Int64))
    assert storage.QUARANTINE_KEEP <= len(kept) <= storage.QUARANTINE_KEEP + storage.QUARANTINE_SAMPLE
    assert kept[:storage.QUARANTINE_KEEP] == sorted(kept[:storage.QUARANTINE_KEEP])
    assert max(kept) > EMPTY_ROWS // 2  # the sample reaches past the first rows
    assert out["quarantine_rows_kept"] == len(kept) and out["quarantine_sampled"] is True
    assert storage.quarantine_count(data, "orders") == out["quarantined"]  # what the Data page shows
    assert storage.load_table(data, "orders").frame.height == out["imported"]


def test_huge_fields_are_quarantined_shortened(tmp_path):
    """One row with a 1 MB field (more than the csv module's field limit) is refused with a reason, and the
    quarantine keeps a shortened copy of it, not the megabyte."""
    from analytics.dataco import import_dataco

    lines = SAMPLE.read_text(encoding="latin-1").splitlines()
    path = tmp_path / "big-field.csv"
    path.write_text("\n".join([*lines, '"' + "x" * 1_000_000 + '",1', *lines[1:3]]) + "\n", encoding="latin-1")
    data = tmp_path / "data"
    out = import_dataco(path, data).as_json()
    assert out["rows_in"] == out["imported"] + out["quarantined"] == len(lines) + 2
    assert out["quarantined"] >= 3  # the huge row and the two repeated order lines
    assert DataDir(data).dataco_rejects.stat().st_size < 50_000


def test_upload_result_names_no_absolute_path(writable_demo_dir, tmp_path):
    from web.uploads import import_dataco_upload

    contents = "data:text/csv;base64," + base64.b64encode(SAMPLE.read_bytes()).decode()
    out = import_dataco_upload(contents, "DataCoSupplyChainDataset.csv", writable_demo_dir, 2_000_000)
    assert out["rows_in"] == out["imported"] + out["quarantined"]
    text = json.dumps(out)
    assert str(writable_demo_dir) not in text and str(ROOT) not in text and "/tmp" not in text
    assert out["quarantine_file"] == "quarantine/dataco_import.csv"
    assert (writable_demo_dir / out["quarantine_file"]).exists()
