"""App factory, routes, CLI, settings, formatting, and the overview/data callbacks called directly."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

from components import format as fmt
from components.i18n import CORE, normalize_lang
from tests.conftest import ROOT
from web.settings import Settings, SettingsError


def test_settings_env_then_overrides(tmp_path):
    s = Settings.from_env({"CHASQUI_DATA_DIR": str(tmp_path), "CHASQUI_PORT": "9000", "CHASQUI_DEMO_FEED": "0",
                           "CHASQUI_ENGINE": "polars"}, port=9100)
    assert s.data_dir == tmp_path and s.port == 9100 and s.demo_feed is False
    assert s.ledger_dir == tmp_path / "ledger"
    with pytest.raises(SettingsError):
        Settings.from_env({"CHASQUI_ENGINE": "excel"})
    with pytest.raises(SettingsError):
        Settings.from_env({"CHASQUI_DEMO_FEED": "maybe"})


def test_readme_documents_every_setting():
    from web.settings import ENV_VARS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for var, _, _ in ENV_VARS.values():
        assert f"`{var}`" in readme, var
    first_commands = [ln.strip() for ln in readme.splitlines() if ln.strip().startswith("make ")][:2]
    assert first_commands == ["make run", "make test"]


def test_money_and_numbers():
    assert fmt.soles(1234.5) == "S/ 1,234.50"
    assert fmt.soles(-12) == "-S/ 12.00"
    assert fmt.soles_compact(12_345_678) == "S/ 12.3 M"
    assert fmt.pct(0.1234) == "12.3%"
    assert normalize_lang("en-US") == "en" and normalize_lang(None) == "es" and normalize_lang("<x>") == "es"
    assert set(CORE["es"]) == set(CORE["en"])


def test_routes(settings, app_factory):
    app = app_factory(settings)
    client = app.server.test_client()
    assert client.get("/healthz").status_code == 200
    assert json.loads(client.get("/healthz").data)["status"] == "ok"
    for path in ("/", "/data", "/?start=2023-01-01&end=2023-02-01&utm_source=x"):
        assert client.get(path).status_code == 200
    # a callback request is timed per callback in /metrics
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    metrics = client.get("/metrics").data.decode()
    assert "chasqui_callback_seconds" in metrics and "chasqui_rows_loaded_total" in metrics


def test_healthz_without_data(tmp_path, app_factory):
    app = app_factory(Settings(data_dir=tmp_path, live=False))
    assert app.server.test_client().get("/healthz").status_code == 503


def test_overview_callback_numbers(rt, demo_dir):
    from callbacks.overview import update_overview

    kpis, trend, regions, status, query, _map = update_overview("2023-01-01", "2023-06-30", "en", "dark")
    orders = pl.read_parquet(demo_dir / "orders.parquet").filter(
        pl.col("order_date").is_between(pl.date(2023, 1, 1), pl.date(2023, 6, 30)))
    assert status is None and query == {"start": "2023-01-01", "end": "2023-06-30"}
    text = str(kpis)
    assert f"{orders.height:,}" in text
    assert fmt.pct(1 - orders["is_late"].mean()) in text
    assert trend.data[0].y == pytest.approx(
        orders.group_by(pl.col("order_date").dt.truncate("1mo")).agg(pl.col("amount_pen").sum())
        .sort("order_date")["amount_pen"].to_list())
    assert len(trend.data[0].x) == 6
    assert trend.layout.template.layout.paper_bgcolor == "#212529"  # dark theme restyles charts
    lima = orders.filter(pl.col("region") == "PE-LIM")
    assert regions.data[0].y[0] == "Lima"
    assert regions.data[0].x[0] == pytest.approx(lima["amount_pen"].sum())


def test_overview_callback_bad_input(rt):
    from callbacks.overview import update_overview

    kpis, trend, regions, status, query, _map = update_overview("not-a-date", None, "es", "light")
    assert kpis == [] and query is None and "No se pudo" in str(status)
    # reversed range is swapped, not an error
    *_, status, query, _map = update_overview("2023-03-01", "2023-01-01", "es", "light")
    assert query == {"start": "2023-01-01", "end": "2023-03-01"}


BROKEN_ORDERS = (10, 20, 30)  # 0-based positions of the orders given a negative amount


@pytest.fixture()
def quarantined_trained_rt(writable_demo_dir, tmp_path):
    """The runtime over a copy of the demo data where three orders break the schema (negative amount, so
    loading the table quarantines them) and the cold-chain detector is trained (a model card entry)."""
    from analytics import storage
    from analytics.live import coldchain
    from analytics.training import train_all
    from web.runtime import configure

    orders = storage.read_table_files(writable_demo_dir, "orders")
    broken = pl.int_range(pl.len()).is_in(list(BROKEN_ORDERS))
    orders = orders.with_columns(pl.when(broken).then(-5.0).otherwise(pl.col("amount_pen")).alias("amount_pen"))
    storage.write_table(orders, writable_demo_dir, "orders")
    assert storage.load_table(writable_demo_dir, "orders").quarantined == len(BROKEN_ORDERS)
    card = train_all(writable_demo_dir, trainers=[coldchain.train])
    settings = Settings(data_dir=writable_demo_dir, live=False, demo_feed=False, cache_dir=tmp_path / "cache")
    return configure(settings), card


def _cells(component) -> list[list[str]]:
    """The text of every table row (``Tr``) under a component, cell by cell, in order."""
    def text(node) -> str:
        if isinstance(node, str | int | float):
            return str(node)
        if isinstance(node, list | tuple):
            return "".join(text(n) for n in node)
        return text(getattr(node, "children", None) or "")

    rows: list[list[str]] = []

    def walk(node) -> None:
        if isinstance(node, list | tuple):
            for n in node:
                walk(n)
        elif getattr(node, "_type", None) == "Tr":
            rows.append([text(cell) for cell in (node.children if isinstance(node.children, list) else [node.children])])
        elif hasattr(node, "children"):
            walk(node.children)

    walk(component)
    return rows


def _find_ids(node, kind: str) -> list:
    """The ids of type ``kind`` under a component, in order."""
    found = []
    if isinstance(node, list | tuple):
        for n in node:
            found += _find_ids(n, kind)
    elif hasattr(node, "to_plotly_json"):
        if isinstance(getattr(node, "id", None), dict) and node.id.get("type") == kind:
            found.append(node.id)
        found += _find_ids(getattr(node, "children", None), kind)
    return found


def test_data_callback_lists_tables_quarantine_and_models(quarantined_trained_rt):
    from callbacks.data import show_catalog, show_table_details
    from components import ids

    _, card = quarantined_trained_rt
    tables, items, active, models = show_catalog("es")
    assert active is None  # every item closed
    rows = _cells(tables)
    summary = {r[0]: r[1:] for r in rows if len(r) == 4}
    # table, rows in the file, date range, quarantined rows
    assert summary["orders"] == ["60,000", "2021-10-01 → 2024-12-31", str(len(BROKEN_ORDERS))]
    assert summary["customers"][-1] == "0" and summary["regions"] == ["25", "—", "0"]
    # every table has an item, drawn empty: its schema and quarantined rows come when it is opened
    names = [name for name in summary if name != "Tabla"]  # the summary's rows under its header
    bodies = [ids.data_table_body(name) for name in names]
    assert _find_ids(items, ids.DATA_TABLE_BODY) == bodies and not [r for r in _cells(items) if len(r) == 5]
    assert [i.item_id for i in items] == names
    opened = show_table_details(["orders", "regions"], "es", bodies)
    assert [b is None for b in opened] == [name not in ("orders", "regions") for name in names]
    orders = _cells(opened[names.index("orders")])
    # the orders' columns with their rules, then the quarantined rows: 1-based row number and the broken rule
    assert ["amount_pen", "Float64", "no"] == [c for c in next(r for r in orders if r[0] == "amount_pen")[:3]]
    quarantined = [r for r in orders if r and r[0].isdigit() and "amount_pen" in (r[1] if len(r) > 1 else "")]
    assert [int(r[0]) for r in quarantined] == [i + 1 for i in BROKEN_ORDERS]
    assert all("≥ 0" in r[1] for r in quarantined)
    assert not [r for r in _cells(opened[names.index("regions")]) if r and r[0].isdigit()]  # none there
    assert show_table_details(None, "es", bodies) == [None] * len(bodies)  # all closed: nothing drawn
    # the trained model with its metrics and the model card's training time
    by_model = {r[0]: r for r in _cells(models)}
    name, kind, metrics, created = by_model["coldchain_anomaly"]
    assert f"false_alarm_rate={card['coldchain_anomaly']['metrics']['false_alarm_rate']:.4g}" in metrics
    assert created == card["created_at"]


def test_cli_help_and_generate(tmp_path):
    out = subprocess.run([sys.executable, "app.py", "--help"], capture_output=True, text=True, cwd=ROOT)
    for cmd in ("serve", "generate", "train", "import", "segments", "scenario", "bench"):
        assert cmd in out.stdout
    out = subprocess.run([sys.executable, "app.py", "generate", "--orders", "2000", "--seed", "3",
                          "--data-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, check=True)
    payload = json.loads(out.stdout.strip().splitlines()[-1])
    assert payload["tables"]["orders"] == 2000
    assert pl.read_parquet(tmp_path / "orders.parquet").height == 2000
    bad = subprocess.run([sys.executable, "app.py", "generate", "--orders", "0", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "error:" in bad.stderr and "Traceback" not in bad.stderr


def test_default_path_imports_no_heavy_engines():
    code = ("import sys; sys.path.insert(0, '.');"
            "from web.settings import Settings; import app, tempfile;"
            "a = app.create_app(Settings(data_dir=tempfile.mkdtemp(), live=False));"
            "a.server.test_client().get('/');"
            "bad = [m for m in ('pyspark', 'tensorflow', 'keras', 'mlflow') if m in sys.modules];"
            "print(bad); assert not bad, bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]


def test_settings_round_trip_for_background_jobs(tmp_path, monkeypatch):
    from web import runtime as rt_mod

    s = Settings(data_dir=tmp_path, port=9001, demo_feed=False, kafka_bootstrap="k:9092")
    assert Settings.from_json(s.to_json()) == s
    # a fresh job process (nothing configured) configures itself from the environment
    monkeypatch.setattr(rt_mod, "_RUNTIME", [])
    monkeypatch.setenv(rt_mod.RUNTIME_ENV, s.to_json())
    assert rt_mod.runtime().settings == s


def test_trend_axis_labels_at_most_eight_months():
    """36 months of data must not print 12 overlapping month labels: semesters instead."""
    from datetime import date

    from components.overview import month_step, trend_figure

    assert [month_step(n) for n in (1, 8, 9, 16, 24, 25, 36, 48, 49, 96, 120)] == [1, 1, 2, 2, 3, 6, 6, 6, 12, 12, 24]
    months = [date(2022 + i // 12, i % 12 + 1, 1) for i in range(36)]
    fig = trend_figure(months, [1] * 36, [10.0] * 36, [0.1] * 36, "es", "light")
    assert fig.layout.xaxis.dtick == 6
    shown = fig.data[0].x[::6]
    assert list(shown) == ["ene 2022", "jul 2022", "ene 2023", "jul 2023", "ene 2024", "jul 2024"]
