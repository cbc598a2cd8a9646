"""`python app.py forecast` and `python app.py stock`, run as the user runs them (subprocesses) on a small generated
data folder: the CSV's columns and rows, the JSON lines' keys, the numbers they share, and exit 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from analytics import storage
from analytics.datadir import DataDir
from analytics.demo_orders import generate_dataset

ROOT = Path(__file__).resolve().parents[2]
STOCK_KEYS = ["origin_dc", "category", "safety_stock", "reorder_point", "lead_time_p50_days", "lead_time_p90_days"]


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("demand-cli") / "data"
    generate_dataset(d, n_orders=8_000, seed=4)
    return d


def app(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHASQUI_")}
    return subprocess.run([sys.executable, "app.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_forecast_then_stock(small_dir: Path, tmp_path: Path) -> None:
    export = tmp_path / "fc.csv"
    r = app("forecast", "--data-dir", str(small_dir), "--as-of", "2024-10-02", "--horizon", "6",
            "--export", str(export))
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert list(summary) == ["series", "horizon", "as_of", "relative_mae", "coverage_80"]
    orders = storage.load_table(small_dir, "orders").frame
    series = set(zip(orders["origin_dc"], orders["category"]))
    # a mid-week as-of moves back to its Monday
    assert summary["series"] == len(series) and summary["horizon"] == 6 and summary["as_of"] == "2024-09-30"
    assert 0 < summary["relative_mae"] < 1.5 and 0 < summary["coverage_80"] <= 1
    assert export.read_text(encoding="utf-8").splitlines()[0] == "origin_dc,category,week_start,p10,p50,p90"
    table = pl.read_csv(export, try_parse_dates=True)
    assert table.height == len(series) * 6
    assert set(zip(table["origin_dc"], table["category"])) == series
    assert sorted(set(table["week_start"].to_list())) == [date(2024, 9, 30) + timedelta(weeks=h) for h in range(6)]
    assert (table["p10"] <= table["p50"]).all() and (table["p50"] <= table["p90"]).all()
    assert table["p50"].sum() > 0

    r = app("stock", "--data-dir", str(small_dir), "--service-level", "0.95", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["service_level"] == 0.95 and payload["as_of"] == "2024-12-30"
    rows = payload["rows"]
    assert len(rows) == len(series) and {(x["origin_dc"], x["category"]) for x in rows} == series
    assert all(list(x) == STOCK_KEYS for x in rows)
    assert all(x["reorder_point"] >= x["safety_stock"] >= 0 and x["lead_time_p90_days"] >= x["lead_time_p50_days"] > 0
               for x in rows)
    assert DataDir(small_dir).cache.demand.is_dir()  # the forecast kept where the page finds it

    # a higher service level asks for more stock, row by row
    r99 = app("stock", "--data-dir", str(small_dir), "--service-level", "0.99", "--json")
    assert r99.returncode == 0, r99.stderr[-2000:]
    high = {(x["origin_dc"], x["category"]): x for x in json.loads(r99.stdout)["rows"]}
    assert all(high[(x["origin_dc"], x["category"])]["reorder_point"] >= x["reorder_point"] for x in rows)
    assert sum(h["safety_stock"] for h in high.values()) > sum(x["safety_stock"] for x in rows)


@pytest.mark.parametrize(("argv", "message"), [
    (["forecast", "--horizon", "13"], "horizon must be 1 to 12"),
    (["forecast", "--as-of", "2031-01-01"], "after the last complete week"),
    (["stock", "--service-level", "1.2", "--json"], "between 0.5 and 0.999"),
])
def test_bad_input_exits_2_with_a_json_error(small_dir: Path, argv: list[str], message: str) -> None:
    r = app(*argv, "--data-dir", str(small_dir))
    assert r.returncode == 2 and r.stdout == ""
    assert message in json.loads(r.stderr.strip().splitlines()[-1])["error"]
