"""The ``forecast`` and ``stock`` commands (contract).

``python app.py forecast --data-dir DIR [--as-of YYYY-MM-DD] [--horizon WEEKS] [--export FILE.csv]``
writes ``origin_dc,category,week_start,p10,p50,p90`` (week_start an ISO date, a Monday; one row per
series and week; the series' p50s add up to the national forecast) and prints one JSON line with
``series``, ``horizon``, ``as_of`` (the Monday the forecast starts on: the as-of date moved back to its
week's Monday), ``relative_mae`` and ``coverage_80`` (the chosen model's backtest on the six months
before the as-of date, series level; the national figures are in the model card and on the page).

``python app.py stock --data-dir DIR --service-level 0.95 [--as-of DATE] [--on-hand FILE.csv]
[--scenario PRESET] --json`` prints one JSON line ``{"rows": [{origin_dc, category, safety_stock,
reorder_point, lead_time_p50_days, lead_time_p90_days}]}``. With ``--on-hand`` every row also has
``on_hand_units`` and ``days_of_cover`` and the line has an ``on_hand`` object (rows_in, accepted,
quarantined, the rejected rows' numbers and reasons; the quarantined rows are written to
``DIR/quarantine/on_hand.csv``). With ``--scenario`` the lead times are the scenario's and the line
says which DCs it affects. ``lead_time_source`` says whether the delivery-days model or, failing it,
the empirical delivery times were used.

Errors (no orders table, as-of outside the data, too short a history, bad service level) print
``{"error": ...}`` on stderr and return exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from analytics import storage
from analytics.datadir import DataDir
from analytics.demand.stock import DEFAULT_SERVICE_LEVEL, StockInputError
from analytics.demand.weekly import DemandDataError
from analytics.demand.weekly_forecast import DEFAULT_HORIZON, MAX_HORIZON, cached_forecast
from analytics.engine import Engine

ON_HAND_QUARANTINE = "on_hand.csv"


def _engine(data_dir: Path, engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    if not storage.has_table(data_dir, "orders"):
        raise FileNotFoundError(f"no orders table in {data_dir} (run `python app.py generate --data-dir {data_dir}`)")
    from analytics.engine.polars_engine import PolarsEngine

    return PolarsEngine(data_dir)


def forecast_csv(table: Any) -> str:
    """The forecast table as CSV text: ``origin_dc,category,week_start,p10,p50,p90`` (ISO dates, 3 decimals)."""
    import polars as pl

    from analytics.csv_export import frame_csv

    return frame_csv(table.select("origin_dc", "category", pl.col("week_start").dt.strftime("%Y-%m-%d"),
                                  *[pl.col(c).round(3) for c in ("p10", "p50", "p90")]))


def write_forecast_csv(path: Path, table: Any) -> Path:
    """Write the forecast table (``origin_dc,category,week_start,p10,p50,p90``) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(forecast_csv(table), encoding="utf-8")
    os.replace(tmp, path)
    return path


def forecast_command(data_dir: Path | str, as_of: date | None = None, horizon: int = DEFAULT_HORIZON,
                     export: Path | str | None = None, *, seed: int = 0, engine: Engine | None = None,
                     use_cache: bool = True) -> dict[str, Any]:
    """Forecast every series; write the CSV to ``export`` if given; return the JSON summary."""
    data_dir = Path(data_dir)
    fc = cached_forecast(data_dir, _engine(data_dir, engine), as_of, horizon, seed, use_cache)
    if export is not None:
        write_forecast_csv(Path(export), fc.table())
    return fc.summary()


def stock_command(data_dir: Path | str, service_level: float = DEFAULT_SERVICE_LEVEL, as_of: date | None = None,
                  on_hand: Path | str | None = None, scenario: str | None = None, *, seed: int = 0,
                  engine: Engine | None = None, cache_dir: Path | None = None, use_cache: bool = True
                  ) -> dict[str, Any]:
    """Safety stock and reorder points of every series at ``service_level``; returns the JSON payload.

    Demand comes from the default-horizon forecast (8 weeks: lead times are days, so the weeks they span
    are the first few), the same one ``forecast`` computes with its defaults."""
    from analytics.demand.page_view import demand_page

    data_dir = Path(data_dir)
    eng = _engine(data_dir, engine)
    raw = Path(on_hand).read_bytes() if on_hand is not None else None
    page = demand_page(eng, data_dir, as_of=as_of, horizon=DEFAULT_HORIZON, service_level=float(service_level),
                       scenario=scenario, on_hand=raw, seed=seed, cache_dir=cache_dir, use_cache=use_cache)
    plan = page.scenario_stock if page.scenario_stock is not None else page.stock
    extra: dict[str, Any] = {}
    if page.scenario is not None:
        extra["scenario"] = {"preset": scenario, "affected_dcs": list(page.scenario.affected_dcs)}
    if page.on_hand is not None:
        qpath = page.on_hand.write_quarantine(DataDir(data_dir).quarantine / ON_HAND_QUARANTINE)
        extra["on_hand"] = {**page.on_hand.as_json(), "quarantine_file": str(qpath)}
    rows = []
    for r in plan.rows:
        row = r.contract()
        if page.on_hand is not None:
            row["on_hand_units"] = r.on_hand_units
            row["days_of_cover"] = None if r.days_of_cover is None else round(r.days_of_cover, 1)
        rows.append(row)
    return {"rows": rows, "service_level": float(service_level), "as_of": page.forecast.as_of.isoformat(),
            "lead_time_source": plan.lead_time_source + (f" (fallback: {plan.fallback})" if plan.fallback else ""),
            **extra}


def add_forecast_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python app.py forecast`` (the CLI module adds the sub-parser and calls this)."""
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD; default: after the data")
    parser.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help=f"weeks ahead, 1-{MAX_HORIZON}")
    parser.add_argument("--export", default=None, help="write origin_dc,category,week_start,p10,p50,p90 here")
    parser.add_argument("--seed", type=int, default=0)


def add_stock_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python app.py stock``."""
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--service-level", type=float, default=DEFAULT_SERVICE_LEVEL)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--on-hand", default=None, help="CSV origin_dc,category,on_hand_units")
    parser.add_argument("--scenario", default=None, help="a scenario preset name (see python app.py scenario)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--seed", type=int, default=0)


def _fail(exc: Exception, err: TextIO) -> int:
    print(json.dumps({"error": str(exc)}, ensure_ascii=False), file=err)
    return 2


def forecast_cli(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point for ``python app.py forecast`` (argparse namespace from :func:`add_forecast_arguments`)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        summary = forecast_command(args.data_dir, args.as_of, args.horizon, args.export, seed=args.seed)
    except (DemandDataError, FileNotFoundError) as exc:
        return _fail(exc, err)
    print(json.dumps(summary, ensure_ascii=False), file=out)
    return 0


def stock_cli(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point for ``python app.py stock``: one JSON line with ``--json``, a plain table otherwise."""
    from analytics.scenarios import ScenarioError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        payload = stock_command(args.data_dir, args.service_level, args.as_of, args.on_hand, args.scenario,
                                seed=args.seed)
    except (DemandDataError, StockInputError, ScenarioError, FileNotFoundError) as exc:
        return _fail(exc, err)
    if args.json:
        print(json.dumps(payload, ensure_ascii=False), file=out)
        return 0
    print(f"service level {payload['service_level']:.3f}, lead times: {payload['lead_time_source']}", file=out)
    for r in payload["rows"]:
        print(f"{r['origin_dc']:<10} {r['category']:<16} safety stock {r['safety_stock']:>9.1f}  reorder point "
              f"{r['reorder_point']:>9.1f}  lead time P50 {r['lead_time_p50_days']:.1f} d, "
              f"P90 {r['lead_time_p90_days']:.1f} d", file=out)
    return 0


__all__ = ["DEFAULT_SERVICE_LEVEL", "add_forecast_arguments", "add_stock_arguments", "forecast_cli", "forecast_csv",
           "forecast_command", "stock_cli", "stock_command", "write_forecast_csv"]
