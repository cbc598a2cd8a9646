"""`python app.py shelf-life`: one JSON line with the lot's band, the what-if, and exit 2 with a clear error for a
lot that is not perishable, a bad what-if, an unknown lot and a data folder without a model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from analytics.shelflife.predict import predict_lot
from analytics.traceability.lots import list_lots
from web.cli import main

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["lot", "product", "remaining_days_p10", "remaining_days_p50", "remaining_days_p90", "at_risk"]


def _lot(d: Path, crop: str) -> str:
    return list_lots(d).filter(pl.col("crop") == crop)["lot_code"][0]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["shelf-life", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prints_one_json_line_with_the_forecast(shelf_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lot = _lot(shelf_dir, "blueberry")
    code, out, err = _run(capsys, "--data-dir", str(shelf_dir), "--lot", lot, "--json")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert list(obj) == KEYS
    assert obj == predict_lot(shelf_dir, lot).summary()
    assert obj["lot"] == lot and obj["product"] == "blueberry" and isinstance(obj["at_risk"], bool)
    assert 0 <= obj["remaining_days_p10"] <= obj["remaining_days_p50"] <= obj["remaining_days_p90"]
    # the what-if: 12 h at 15 °C before sailing lowers the P50
    code, out, err = _run(capsys, "--data-dir", str(shelf_dir), "--lot", lot, "--extra-hours", "12", "--at-temp", "15",
                          "--json")
    assert code == 0, err
    whatif = json.loads(out)
    assert list(whatif) == KEYS
    assert whatif == predict_lot(shelf_dir, lot, extra_hours=12, at_temp_c=15).summary()
    assert whatif["remaining_days_p50"] < obj["remaining_days_p50"]


@pytest.mark.parametrize(("args", "message"), [
    (["--lot", "NO-SUCH-LOT"], "unknown lot 'NO-SUCH-LOT'"),
    (["--lot", "{mango}", "--extra-hours", "12"], "extra hours need a temperature"),
    (["--lot", "{mango}", "--extra-hours", "12", "--at-temp", "80"], "temperature must be between"),
    (["--lot", "{mango}", "--extra-hours", "-2", "--at-temp", "10"], "extra hours must be between"),
    (["--lot", "{mango}", "--extra-hours", "nan", "--at-temp", "10"], "extra hours must be between"),
    (["--lot", "{coffee}"], "no shelf-life model"),
])
def test_clear_errors_exit_2(shelf_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                             message: str) -> None:
    argv = [a.format(mango=_lot(shelf_dir, "mango"), coffee=_lot(shelf_dir, "coffee")) for a in args]
    code, out, err = _run(capsys, "--data-dir", str(shelf_dir), *argv, "--json")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_no_model_exits_2_and_names_the_command(shelf_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(shelf_dir, bare, ignore=shutil.ignore_patterns(".cache", "models"))
    code, out, err = _run(capsys, "--data-dir", str(bare), "--lot", _lot(bare, "grape"), "--json")
    assert code == 2 and out == "" and "python app.py train" in err


def test_through_app_py(shelf_dir: Path) -> None:
    """The command as a user runs it: a whole process, exactly one line on stdout."""
    lot = _lot(shelf_dir, "asparagus")
    run = subprocess.run([sys.executable, "app.py", "shelf-life", "--data-dir", str(shelf_dir), "--lot", lot, "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    (line,) = run.stdout.splitlines()
    assert json.loads(line) == predict_lot(shelf_dir, lot).summary()
    bad = subprocess.run([sys.executable, "app.py", "shelf-life", "--data-dir", str(shelf_dir), "--lot", lot,
                          "--extra-hours", "x"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert bad.returncode == 2 and "--extra-hours" in bad.stderr
