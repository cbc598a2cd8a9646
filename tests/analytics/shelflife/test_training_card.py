"""`python app.py train` trains the shelf-life model: the model card's ``quality`` section after train_all."""

from __future__ import annotations

import json
from pathlib import Path

from analytics import artifacts
from analytics.datadir import DataDir
from analytics.model_card import model_catalog, read_card
from analytics.shelflife.model import read_meta, train, world_seed
from analytics.training import default_trainers


def test_the_default_trainers_include_shelf_life() -> None:
    assert train in default_trainers()


def test_model_card_quality_section_after_train(shelf_dir: Path) -> None:
    card = read_card(shelf_dir)
    q = card["quality"]
    for key in ("mae", "baseline_mae", "coverage_80"):
        assert isinstance(q[key], float), key
    assert 0 < q["mae"] < q["baseline_mae"]
    assert 0.6 <= q["coverage_80"] <= 0.95
    assert q["mae_reduction"] == round(1 - q["mae"] / q["baseline_mae"], 4)
    assert q["world_seed"] == world_seed(shelf_dir)
    assert q["kind"] in q["candidates"] and q["lots"]["train"] + q["lots"]["validation"] + q["lots"]["test"] == 800
    # the artifacts sit in the folder the data layout names, and the card's hash is the meta file's
    layout = DataDir(shelf_dir)
    assert (shelf_dir / "models" / q["artifact"]) == layout.shelflife_models / "shelflife_meta.json"
    assert q["sha256"] == artifacts.read_manifest(layout.shelflife_models / "shelflife_meta.json")["sha256"]
    assert read_meta(layout.models)["card"]["mae"] == q["mae"]
    # the Data page lists it with its metrics
    entry = next(e for e in model_catalog(shelf_dir) if e["model"] == "quality")
    assert entry["metrics"]["mae"] == q["mae"] and entry["metrics"]["coverage_80"] == q["coverage_80"]
    assert json.loads(layout.model_card.read_text(encoding="utf-8"))["quality"] == q
