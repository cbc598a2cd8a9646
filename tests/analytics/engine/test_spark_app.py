"""CHASQUI_ENGINE=spark on a real deployment: every page's callbacks give the same numbers as on Polars, on a
Spark Connect server (``sc://``) and on a standalone cluster (``spark://``, driven by Chasqui's per-host Connect
server). Run with ``-m cluster``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fixtures.spark import CLUSTERS, ON_CLUSTERS, SparkTarget, spark_engine_for

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parents[3]

BLOCKADE = (["PE-PUN", "PE-CUS"], 30, 0, 0, 0, 0, 10, 0, "electronics", 0, 8)
LOGISTICS = ("2024-10-01", "2024-12-31", ["Rápido Inca", "Chaski Express"], None, None, None, "risk", 0, "en", "light")


def _pages(progress: list) -> dict[str, tuple]:
    """The on-load callback of every page that asks the engine something (the data as a visitor sees it)."""
    from callbacks import scenarios, segments, sourcing
    from callbacks.overview import update_overview

    return {
        "overview": update_overview("2023-01-01", "2023-06-30", "en", "light"),
        "segments": segments.update_segments(progress.append, 6, None, None, [], None, "en", "light"),
        "scenarios": scenarios.simulate_scenario(*BLOCKADE, "en", "light"),
        "sourcing": sourcing.update_ranking(["cacao", "maca"], [25, 25, 25, 25], sourcing.weight_slider_ids(), 0,
                                            "en", "light"),
    }


def _spark_runtime(app_factory, settings, target: SparkTarget):
    from analytics.engine.spark_engine import SparkEngine
    from web.runtime import runtime

    app = app_factory(settings.replace(engine="spark", spark_master=target.master, cache_dir=target.cache_dir))
    rt = runtime()
    assert rt.warming is not None  # the app reaches Spark at start-up, before any visitor asks
    rt.warming.join(600)
    engine = rt.engine
    assert isinstance(engine, SparkEngine) and engine.is_connect and "pyspark" in sys.modules
    assert app.server.test_client().get("/healthz").status_code == 200
    return engine


@pytest.fixture(scope="module")
def polars_pages(settings) -> dict[str, tuple]:
    """The pages on Polars, computed once for both deployments."""
    from web.runtime import configure

    configure(settings)
    return _pages([])


@ON_CLUSTERS
def test_every_page_same_on_spark(spark_target, settings, app_factory, polars_pages):
    from web.runtime import configure

    want = polars_pages
    # The app shares the parity tests' cache folder: the validation records and per-day summaries they computed
    # on this deployment are read back, as a second Chasqui process on the host would (run alone, it computes
    # them itself).
    engine = _spark_runtime(app_factory, settings, spark_target)
    progress: list = []
    try:
        got = _pages(progress)
    finally:
        configure(settings)  # leave the Polars runtime for other tests
        engine.stop()
    # Overview: KPI cards as shown, monthly trend, region ranking
    kpis_w, trend_w, regions_w, status_w, query_w, _ = want["overview"]
    kpis_g, trend_g, regions_g, status_g, query_g, _ = got["overview"]
    assert str(kpis_g) == str(kpis_w) and status_g is None and query_g == query_w
    assert list(trend_g.data[0].x) == list(trend_w.data[0].x) and len(trend_g.data[0].x) == 6
    assert list(trend_g.data[0].y) == pytest.approx(list(trend_w.data[0].y), rel=1e-9)
    assert list(regions_g.data[0].y) == list(regions_w.data[0].y)
    assert list(regions_g.data[0].x) == pytest.approx(list(regions_w.data[0].x), rel=1e-9)
    # Segments: same customers, silhouette, suggested k, curves; the run reported its progress
    summary_w, _, curves_w, *_ = want["segments"]
    summary_g, status_g, curves_g, *_ = got["segments"]
    assert status_g is None and summary_g == summary_w and "customers" in summary_g
    assert list(curves_g.data[0].y) == pytest.approx(list(curves_w.data[0].y), rel=1e-6)
    assert progress and progress[-1] == (100, "")
    # Scenarios: the same calibration gives the same 1,000 seeded runs
    res_w, res_g = want["scenarios"][0], got["scenarios"][0]
    assert res_g is not None and res_g["meta"]["runs"] == 1000
    assert res_g["meta"]["reference_window"] == res_w["meta"]["reference_window"]
    for region in ("PE-PUN", "PE-CUS", "PE-LIM"):
        assert res_g["scenario"]["by_region"][region]["late_rate"]["p50"] == pytest.approx(
            res_w["scenario"]["by_region"][region]["late_rate"]["p50"], rel=1e-6)
    # Sourcing: the same suppliers in the same order with the same scores
    rows_w, rows_g = want["sourcing"][0], got["sourcing"][0]
    assert len(rows_g) == len(rows_w) > 10
    assert [(r["supplier_id"], r["rank"]) for r in rows_g] == [(r["supplier_id"], r["rank"]) for r in rows_w]
    assert [r["composite"] for r in rows_g] == pytest.approx([r["composite"] for r in rows_w], rel=1e-9)


@ON_CLUSTERS
def test_logistics_page_same_on_spark(spark_target, trained_spark_dir: Path, settings, app_factory):
    from callbacks import logistics as cb
    from web.runtime import configure

    base = settings.replace(data_dir=trained_spark_dir, cache_dir=spark_target.cache_dir.parent / "polars-cache")
    configure(base)
    opts_w, want = cb.load_options(0, None, None), cb.update_view(*LOGISTICS)
    engine = _spark_runtime(app_factory, base, spark_target)
    try:
        opts_g, got = cb.load_options(0, None, None), cb.update_view(*LOGISTICS)
    finally:
        configure(settings)
        engine.stop()
    assert opts_g == opts_w and opts_g[0]  # carriers, modes, categories, DCs and the default dates
    fig_w, ranking_w, title_w, kpis_w, rows_w, status_w = want
    fig_g, ranking_g, title_g, kpis_g, rows_g, status_g = got
    assert [r["order_id"] for r in rows_g] == [r["order_id"] for r in rows_w] and len(rows_g) > 50
    assert [r["risk_value"] for r in rows_g] == pytest.approx([r["risk_value"] for r in rows_w], rel=1e-9)
    assert ranking_g["data"][0]["y"] == ranking_w["data"][0]["y"]
    assert ranking_g["data"][0]["x"] == pytest.approx(ranking_w["data"][0]["x"], rel=1e-9)
    assert title_g == title_w and str(kpis_g) == str(kpis_w) and str(status_g) == str(status_w)


@pytest.mark.parametrize("spark_target", [CLUSTERS[1]], indirect=True)  # standalone: the host's server runs
def test_cli_reuses_the_hosts_spark_and_starts_no_jvm(spark_target, settings):
    """Another Chasqui process (the CLI: ``python app.py warm --page /``) connects to the host's Spark Connect
    server that the tests' engines use. It cannot start a JVM at all: JAVA_HOME points nowhere, so any driver
    or second server of its own would fail. The server afterwards is the same process."""
    import json
    import os
    import subprocess

    from analytics.engine.spark_server import current, server_dir

    folder = server_dir(spark_target.cache_dir)
    engine = spark_engine_for(spark_target, settings.data_dir)
    try:
        engine.row_count("orders")  # this process leases the host's server (started with the cluster)
        before = current(folder)
        assert before is not None and before.master == spark_target.master
        env = {**os.environ, "CHASQUI_ENGINE": "spark", "CHASQUI_SPARK_MASTER": spark_target.master,
               "CHASQUI_CACHE_DIR": str(spark_target.cache_dir), "CHASQUI_DATA_DIR": str(settings.data_dir),
               "CHASQUI_LIVE": "0", "CHASQUI_DEMO_FEED": "0", "CHASQUI_WARM": "0", "JAVA_HOME": "/nonexistent"}
        out = subprocess.run([sys.executable, "app.py", "warm", "--force", "--page", "/"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert report["failed"] == {} and report["warmed"] >= 1 and all(k.startswith("/ ") for k in report["seconds"])
        assert current(folder) == before  # the same server (supervisor and JVM, same pids and start times)
    finally:
        engine.stop()
