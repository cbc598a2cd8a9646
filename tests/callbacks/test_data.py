"""Data page callbacks called directly: the upload limit shown and enforced in the browser follows the setting."""

from __future__ import annotations

from callbacks import data as cb
from components import datasets, ids
from tests.fixtures.web import find_component
from web.runtime import configure


def test_upload_limit_follows_the_setting(settings) -> None:
    configure(settings.replace(upload_max_mb=0.05))
    max_size, text = cb.upload_limit("en")
    assert max_size == int(0.05 * 1024 * 1024) == 52428
    assert "up to 0.05 MB" in text
    configure(settings.replace(upload_max_mb=7.5))
    max_size, text = cb.upload_limit("es")
    assert max_size == 7_864_320 and "hasta 7.5 MB" in text
    configure(settings)
    assert cb.upload_limit("es")[0] == int(settings.upload_max_mb * 1024 * 1024)


def test_layout_states_no_limit_of_its_own() -> None:
    upload = find_component(datasets.layout(), ids.DATA_UPLOAD)
    assert upload is not None and getattr(upload, "max_size", -1) == -1  # the callback sets it on load
    assert find_component(datasets.layout(), ids.DATA_UPLOAD_HELP).children is None


def _text(node) -> str:
    if isinstance(node, str | int | float):
        return str(node)
    children = getattr(node, "children", None)
    if isinstance(children, list | tuple):
        return " ".join(_text(c) for c in children if c is not None)
    return _text(children) if children is not None else ""


def test_runs_list_shows_every_training_run_and_the_live_versions(tmp_path) -> None:
    from analytics.demo_orders import generate_dataset
    from analytics.training import train_all
    from tests.analytics.test_experiments import toy_trainer
    from web.settings import Settings

    d = tmp_path / "data"
    generate_dataset(d, n_orders=2000, seed=4, with_extensions=False)
    runtime = Settings(data_dir=d, live=False, demo_feed=False, cache_dir=tmp_path / "cache")
    configure(runtime)
    empty = cb.show_runs("en")
    assert "No training runs tracked yet" in _text(empty)
    first = train_all(d, trainers=[toy_trainer])["mlflow"]["run_id"]
    second = train_all(d, trainers=[toy_trainer])["mlflow"]["run_id"]
    view = cb.show_runs("en")
    table = find_component(view, ids.DATA_RUNS_TABLE)
    rows = table.children[1].children
    assert [r.children[0].children.children for r in rows] == [second[:12], first[:12]]
    assert "toy v2" in _text(rows[0]) and "live" in _text(rows[0]) and "live" not in _text(rows[1])
    assert "Live versions: toy v2" in _text(view) and d.name in _text(view)
    assert "Entrenamientos" not in _text(view) and "en uso" in _text(cb.show_runs("es"))
