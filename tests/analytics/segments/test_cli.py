"""`python app.py segments --data-dir DIR --k K --export FILE.csv` (contract)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import polars as pl

from analytics.segments import cli
from tests.conftest import ROOT


def test_cli_exports_every_customer_exactly_once(demo_dir, tmp_path, capsys):
    out = tmp_path / "seg.csv"
    code = cli(argparse.Namespace(data_dir=demo_dir, k=6, export=out, seed=0))
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    df = pl.read_csv(out)
    assert df.columns == ["customer_id", "segment"]
    orders = pl.read_parquet(demo_dir / "orders.parquet")
    customers = pl.read_parquet(demo_dir / "customers.parquet")
    assert df["customer_id"].n_unique() == df.height  # exactly once
    assert set(df["customer_id"]) == set(orders["customer_id"])  # every customer with an order
    # customers without any order are counted, not silently dropped
    assert summary["customers"] + summary["customers_without_orders"] == customers.height
    assert summary["k"] == 6 and df["segment"].n_unique() == 6
    assert 0.4 < summary["silhouette"] < 0.6
    sizes = df.group_by("segment").len()
    assert summary["segment_sizes"] == dict(zip(sizes["segment"], sizes["len"]))
    assert sum(summary["segment_sizes"].values()) == df.height
    assert set(summary["segment_sizes"]) == {"Champions", "Loyal", "Price hunters", "At risk", "Occasional", "New"}


def test_cli_bad_input_is_a_clear_error(tmp_path, demo_dir, capsys):
    assert cli(argparse.Namespace(data_dir=tmp_path / "nothing", k=6, export=None, seed=0)) == 2
    assert "no orders table" in capsys.readouterr().err
    assert cli(argparse.Namespace(data_dir=demo_dir, k=12, export=tmp_path / "x.csv", seed=0)) == 2
    assert "between 2 and 10" in json.loads(capsys.readouterr().err)["error"]
    assert not (tmp_path / "x.csv").exists()


def test_app_command_line(demo_dir, tmp_path):
    out = tmp_path / "k3.csv"
    proc = subprocess.run([sys.executable, "app.py", "segments", "--data-dir", str(demo_dir), "--k", "3",
                           "--export", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["k"] == 3 and len(summary["segment_sizes"]) == 3
    assert pl.read_csv(out).height == summary["customers"]
