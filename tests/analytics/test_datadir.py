"""The data folder's layout (analytics.datadir) and the one model-card reader (analytics.model_card).

The paths are spelled out here on purpose: they are the on-disk contract the README documents, and every other
module and test reaches them through DataDir.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from analytics import storage
from analytics.datadir import CacheDir, DataDir
from analytics.model_card import data_fingerprint, model_catalog, read_card, trained_timestamps
from tests.conftest import ROOT


def test_layout_is_the_documented_one(tmp_path: Path) -> None:
    d = DataDir(tmp_path)
    assert d.table("orders") == tmp_path / "orders.parquet"
    assert d.quarantine_file("orders") == tmp_path / "quarantine" / "orders.parquet"
    assert d.import_quarantine_file("orders") == tmp_path / "quarantine" / "orders.import.parquet"
    assert d.dataco_rejects == tmp_path / "quarantine" / "dataco_import.csv"
    assert d.models == tmp_path / "models"
    assert d.model_card == tmp_path / "models" / "model_card.json"
    assert d.logistics_models == tmp_path / "models" / "logistics"
    assert d.logistics_scores_key == tmp_path / "models" / "logistics" / "scores_key.json"
    assert d.sourcing_model == tmp_path / "models" / "sourcing_score.keras"
    assert d.coldchain_model == tmp_path / "models" / "coldchain_iforest.skops"
    assert d.saved_scenarios == tmp_path / "scenarios" / "saved.json"
    assert d.ledger == tmp_path / "ledger"
    assert d.ledger_public_key == tmp_path / "ledger" / "verifier.pub"
    assert d.cache == CacheDir(tmp_path / ".cache")
    assert d.ledger_trust == tmp_path / ".cache" / "ledger-trust"
    assert d.pinned_key == tmp_path / ".cache" / "ledger-trust" / "pinned.pub"
    assert d.last_checkpoint == tmp_path / ".cache" / "ledger-trust" / "last_checkpoint.json"
    assert (d.cache.segments, d.cache.scenarios, d.cache.live) == (
        tmp_path / ".cache" / "segments", tmp_path / ".cache" / "scenarios", tmp_path / ".cache" / "live")
    assert d.cache.live_lock == tmp_path / ".cache" / "live-listener.lock"


def test_configured_cache_and_ledger_folders_replace_the_defaults(tmp_path: Path) -> None:
    """One cache folder: with CHASQUI_CACHE_DIR set, nothing (ledger trust included) goes to DATA_DIR/.cache."""
    d = DataDir(tmp_path / "data", cache_dir=tmp_path / "c", ledger_dir=tmp_path / "log")
    assert d.ledger_trust == tmp_path / "c" / "ledger-trust"
    assert d.cache.segments == tmp_path / "c" / "segments"
    assert d.ledger == tmp_path / "log" and d.ledger_public_key == tmp_path / "log" / "verifier.pub"
    assert d.models == tmp_path / "data" / "models"  # models and tables never move with the cache
    assert not any(str(p).startswith(str(tmp_path / "data" / ".cache"))
                   for p in (d.ledger_trust, d.cache.root, d.cache.live, d.cache.results, d.cache.background))


def test_partitioned_table_resolves_to_its_folder(tmp_path: Path) -> None:
    df = pl.DataFrame({"order_date": [date(2024, 1, 5), date(2024, 2, 6)], "x": [1, 2]})
    storage.write_partitioned(df, tmp_path, "t")
    assert DataDir(tmp_path).table("t") == tmp_path / "t"
    assert storage.table_path(tmp_path, "t") == tmp_path / "t"
    storage.write_table(pl.DataFrame({"x": [1]}), tmp_path, "t")  # a single file wins over the folder
    assert DataDir(tmp_path).table("t") == tmp_path / "t.parquet"


def _card(tmp_path: Path) -> DataDir:
    d = DataDir(tmp_path)
    d.models.mkdir(parents=True)
    d.model_card.write_text(json.dumps({
        "late_risk": {"model": "hgb", "roc_auc": 0.71, "calibrated": True}, "skipped": {"x": "no data"},
        "created_at": "2025-03-01T12:00:00+00:00", "version": "1"}))
    (d.models / "coldchain_iforest.skops.manifest.json").write_text(json.dumps(
        {"name": "coldchain_iforest.skops", "kind": "skops", "created_at": "2025-02-01T00:00:00+00:00",
         "metrics": {"false_alarm_rate": 0.004}}))
    (d.models / "broken.manifest.json").write_text("{not json")
    return d


def test_model_catalog_reads_card_and_manifests(tmp_path: Path) -> None:
    _card(tmp_path)
    got = {m["model"]: m for m in model_catalog(tmp_path)}
    assert set(got) == {"late_risk", "coldchain_iforest.skops"}  # "skipped" is not a model; broken manifest left out
    assert got["late_risk"]["metrics"] == {"roc_auc": 0.71} and got["late_risk"]["kind"] == "hgb"
    assert got["late_risk"]["source"] == "model_card.json"
    assert got["coldchain_iforest.skops"]["metrics"] == {"false_alarm_rate": 0.004}
    assert read_card(tmp_path)["version"] == "1"


def test_trained_timestamps_for_the_model_age_metric(tmp_path: Path) -> None:
    assert trained_timestamps(tmp_path) == {}  # no models folder: no samples, no error
    d = _card(tmp_path)
    assert trained_timestamps(tmp_path) == {"late_risk": 1740830400.0, "coldchain_iforest.skops": 1738368000.0}
    d.model_card.write_text("{corrupt")
    assert trained_timestamps(tmp_path) == {}  # an unreadable card is never an error for the metric
    with pytest.raises(ValueError):
        model_catalog(tmp_path)  # ... but the Data page reports it


def test_data_fingerprint_follows_the_table_bytes(tmp_path: Path) -> None:
    storage.write_table(pl.DataFrame({"x": [1, 2]}), tmp_path, "notes")
    first = data_fingerprint(tmp_path, ("notes",))
    assert first.startswith("sha256:") and first == data_fingerprint(tmp_path, ("notes",))
    storage.write_table(pl.DataFrame({"x": [1, 3]}), tmp_path, "notes")
    assert data_fingerprint(tmp_path, ("notes",)) != first


def test_layout_and_card_reader_import_no_dataframe_library() -> None:
    """The gunicorn master reads model ages with these before forking: stdlib only."""
    code = ("import sys, analytics.datadir, analytics.model_card; "
            "print(sorted(m for m in ('polars', 'numpy', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
