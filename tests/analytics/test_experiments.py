"""MLflow tracking: every training run written to a local file store and read back (no server needed)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import artifacts
from analytics.datadir import DataDir
from analytics.demo_orders import generate_dataset
from analytics.experiments import EXPERIMENT, MODEL_PREFIX, list_runs, tracking_uri
from analytics.model_card import model_catalog, read_card
from analytics.training import train_all
from tests.conftest import ROOT


def toy_trainer(data_dir: Path, progress) -> dict:
    """A real (tiny) trainer: writes an artifact with its manifest and reports metrics with an interval."""
    orders = __import__("polars").read_parquet(Path(data_dir) / "orders.parquet")
    rate = float(orders["is_late"].mean())
    artifacts.save({"late_rate": rate}, DataDir(Path(data_dir)).models / "toy.json",
                   data_fingerprint="sha256:toy", metrics={"late_rate": rate})
    progress("toy", 1.0)
    return {"toy": {"late_rate": round(rate, 4), "model": "late share", "intervals": {"late_rate": [0.1, 0.3]}}}


@pytest.fixture()
def small_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    generate_dataset(d, n_orders=2000, seed=3, with_extensions=False)
    return d


def _client(uri: str):
    from analytics.experiments import _client as make

    return make(uri)


def test_every_training_run_is_logged_and_read_back(small_dir: Path):
    first = train_all(small_dir, trainers=[toy_trainer])
    second = train_all(small_dir, trainers=[toy_trainer])
    store = DataDir(small_dir).mlruns
    assert store.is_dir() and tracking_uri(small_dir) == store.resolve().as_uri()
    assert first["mlflow"]["versions"] == {"toy": "1"} and second["mlflow"]["versions"] == {"toy": "2"}
    assert read_card(small_dir)["mlflow"]["run_id"] == second["mlflow"]["run_id"]
    assert "mlflow" not in {m["model"] for m in model_catalog(small_dir)}  # bookkeeping, not a model

    tracked = list_runs(small_dir)
    assert tracked.error is None and tracked.live == {"toy": "2"}
    assert [r.run_id for r in tracked.runs] == [second["mlflow"]["run_id"], first["mlflow"]["run_id"]]
    newest, oldest = tracked.runs
    assert newest.live == ["toy"] and oldest.live == [] and oldest.versions == {"toy": "1"}
    assert newest.status == "FINISHED" and newest.trained == ["toy"]
    assert newest.data_fingerprint == second["data_fingerprint"]
    assert newest.metrics["toy.late_rate"] == pytest.approx(second["toy"]["late_rate"])

    # what the run holds, read straight from the store
    client = _client(tracking_uri(small_dir))
    run = client.get_run(newest.run_id)
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    assert run.data.params["trainers"] == toy_trainer.__module__
    assert run.data.params["data_fingerprint"] == second["data_fingerprint"]
    sha = json.loads((DataDir(small_dir).models / "toy.json.manifest.json").read_text())["sha256"]
    assert run.data.params["sha256.toy.json"] == sha
    assert run.data.metrics["toy.late_rate_ci_low"] == 0.1 and run.data.metrics["toy.late_rate_ci_high"] == 0.3
    files = {f.path for f in client.list_artifacts(newest.run_id)}
    assert files == {"model_card.json", "artifact_hashes.json"}
    card_file = client.download_artifacts(newest.run_id, "model_card.json", str(small_dir.parent))
    assert json.loads(Path(card_file).read_text())["toy"] == second["toy"]
    live = client.get_model_version_by_alias(f"{MODEL_PREFIX}toy", "live")
    assert str(live.version) == "2" and live.run_id == newest.run_id


def test_tracking_uri_setting_sends_runs_elsewhere(small_dir: Path, tmp_path: Path):
    elsewhere = (tmp_path / "tracking").resolve().as_uri()
    card = train_all(small_dir, trainers=[toy_trainer], tracking_uri=elsewhere)
    assert not DataDir(small_dir).mlruns.exists()
    tracked = list_runs(small_dir, elsewhere)
    assert [r.run_id for r in tracked.runs] == [card["mlflow"]["run_id"]] and tracked.uri == elsewhere
    assert list_runs(small_dir).runs == []  # nothing in the default store


def test_unreachable_server_keeps_the_trained_models(small_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    uri = f"http://user:secret@127.0.0.1:{port}"
    card = train_all(small_dir, trainers=[toy_trainer], tracking_uri=uri)
    assert "toy" in card and "could not log" in card["mlflow"]["error"]
    assert "secret" not in card["mlflow"]["error"]
    assert read_card(small_dir)["toy"] == card["toy"]
    tracked = list_runs(small_dir, uri)
    assert tracked.runs == [] and tracked.error and "secret" not in tracked.uri + tracked.error


def test_importing_the_module_does_not_import_mlflow():
    code = "import sys, analytics.experiments, analytics.training; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
