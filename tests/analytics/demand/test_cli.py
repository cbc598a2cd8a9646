"""The forecast and stock commands' contract, on an imported DataCo-shaped file (markets instead of DCs)."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from analytics.datadir import DataDir
from analytics.demand.cli import add_forecast_arguments, add_stock_arguments, forecast_cli, stock_cli
from tests.analytics.demand.conftest import DATACO_CATEGORIES, MARKETS

ROOT = Path(__file__).resolve().parents[3]


def parse(add, argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add(p)
    return p.parse_args(argv)


def run(cli, add, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli(parse(add, argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_forecast_on_dataco_writes_the_csv_and_one_json_line(dataco_dir, tmp_path: Path):
    data, units = dataco_dir
    export = tmp_path / "out" / "forecast.csv"
    code, out, err = run(forecast_cli, add_forecast_arguments,
                         ["--data-dir", str(data), "--export", str(export)])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert list(summary) == ["series", "horizon", "as_of", "relative_mae", "coverage_80"]
    # DataCo series: Market x Category Name (the importer keeps the market in origin_dc)
    assert summary["series"] == len(MARKETS) * len(DATACO_CATEGORIES) == len(units)
    assert summary["horizon"] == 8 and summary["as_of"] == "2017-12-25"
    assert 0 < summary["relative_mae"] < 1.0 and 0.6 < summary["coverage_80"] < 0.95
    assert export.read_text(encoding="utf-8").splitlines()[0] == "origin_dc,category,week_start,p10,p50,p90"
    table = pl.read_csv(export, try_parse_dates=True)
    assert table.height == 25 * 8
    assert set(zip(table["origin_dc"], table["category"])) == set(units)
    assert {d.weekday() for d in table["week_start"].to_list()} == {0}
    assert sorted(set(table["week_start"].to_list()))[0] == date(2017, 12, 25)
    assert (table["p10"] <= table["p50"]).all() and (table["p50"] <= table["p90"]).all()


def test_stock_on_dataco_prints_one_json_line_with_the_contract_rows(dataco_dir):
    data, units = dataco_dir
    code, out, err = run(stock_cli, add_stock_arguments, ["--data-dir", str(data), "--service-level", "0.95", "--json"])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    rows = payload["rows"]
    assert len(rows) == len(units)
    assert all(list(r) == ["origin_dc", "category", "safety_stock", "reorder_point", "lead_time_p50_days",
                           "lead_time_p90_days"] for r in rows)
    assert {r["origin_dc"] for r in rows} == set(MARKETS)
    assert all(r["reorder_point"] >= r["safety_stock"] > 0 and r["lead_time_p90_days"] >= r["lead_time_p50_days"] > 0
               for r in rows)
    assert "fallback: no trained delivery-days model" in payload["lead_time_source"]
    assert DataDir(data).cache.demand.is_dir()  # the forecast it shares with `forecast` (same defaults)


@pytest.mark.parametrize(("argv", "message"), [
    (["--as-of", "2031-01-01"], "after the last complete week"),
    (["--horizon", "13"], "horizon must be 1 to 12"),
])
def test_forecast_errors_are_one_json_line_on_stderr(seed_dirs, argv, message):
    code, out, err = run(forecast_cli, add_forecast_arguments, ["--data-dir", str(seed_dirs[1]), *argv])
    assert code == 2 and out == "" and message in json.loads(err)["error"]


def test_stock_errors(seed_dirs, tmp_path: Path):
    code, _, err = run(stock_cli, add_stock_arguments, ["--data-dir", str(seed_dirs[1]), "--service-level", "1.2"])
    assert code == 2 and "between 0.5 and 0.999" in json.loads(err)["error"]
    code, _, err = run(stock_cli, add_stock_arguments, ["--data-dir", str(tmp_path / "empty"), "--json"])
    assert code == 2 and "no orders table" in json.loads(err)["error"]


def test_the_demand_package_imports_no_web_or_heavy_modules():
    code = ("import sys, analytics.demand.cli, analytics.demand.stock, analytics.demand.leadtime; "
            "bad = {'pyspark', 'tensorflow', 'dash', 'flask', 'werkzeug'} & {m.split('.')[0] for m in sys.modules}; "
            "print(sorted(bad))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"
