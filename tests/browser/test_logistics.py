"""One browser test: load /logistics from a shared URL, switch the map metric; no console errors."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import free_port


@pytest.mark.browser
def test_logistics_page(dash_duo, trained_dir, tmp_path, app_factory, browser_errors):
    from web.settings import Settings

    data = tmp_path / "data"  # private copy: the retrain below rewrites the models
    shutil.copytree(trained_dir, data, ignore=shutil.ignore_patterns(".cache"))
    app = app_factory(Settings(data_dir=data, live=False, demo_feed=False, cache_dir=tmp_path / "cache"))
    dash_duo.start_server(app, port=free_port())
    url = f"{dash_duo.server_url}/logistics?start=2024-10-01&end=2024-12-31&mode=standard&foo=1"
    dash_duo.wait_for_page(url=url, timeout=30)
    dash_duo.wait_for_element("#logistics-grid .ag-row", timeout=60)
    dash_duo.wait_for_contains_text("#logistics-status", "2024-10-01", timeout=30)
    dash_duo.wait_for_contains_text("#logistics-map", "Riesgo previsto", timeout=30)
    first = dash_duo.find_element("#logistics-grid .ag-row [col-id='order_id']").text
    assert first.startswith("PE-")
    # main interaction: the historical late-rate toggle recolours the map and lands in the URL
    dash_duo.find_element("#logistics-metric input[value='late_rate']").click()
    dash_duo.wait_for_contains_text("#logistics-map", "Tasa histórica de retraso", timeout=30)
    dash_duo.wait_for_contains_text("#logistics-card", "ROC AUC", timeout=30)
    assert "metric=late_rate" in dash_duo.driver.current_url
    assert "mode=standard" in dash_duo.driver.current_url
    # the retrain button drives a background callback; its work (train_all with the logistics trainer) is tested
    # without a browser in test_models.py::test_retrain_trains_logistics_with_progress (a browser retrain took ~110 s)
    assert dash_duo.find_element("#logistics-retrain").is_enabled()
    assert browser_errors(dash_duo) == []
