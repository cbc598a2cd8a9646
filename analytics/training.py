"""`python app.py train`: train every model the data supports and write DIR/models/model_card.json.

Each page issue registers a trainer "module:function" in TRAINERS; it is called as
``fn(data_dir: Path, progress) -> dict`` and returns its fragment of the model card
(e.g. ``{"late_risk": {...}, "delivery_days": {...}}``), or raises ``SkipTraining`` when the data
does not support it (the reason is recorded in the card).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics import storage

MODEL_CARD = "model_card.json"
CARD_VERSION = "1"

Progress = Callable[[str, float], None]

TRAINERS: list[str] = [
    "analytics.logistics.train:train",
    "analytics.sourcing.model:train_sourcing_model",
    "analytics.live.coldchain:train",
]


class SkipTraining(Exception):
    """A trainer cannot run on this data (e.g. no suppliers table); the reason is recorded."""


def data_fingerprint(data_dir: Path | str, tables: tuple[str, ...] = ("orders", "customers")) -> str:
    """SHA-256 over the bytes of the given tables (what a model was trained on)."""
    h = hashlib.sha256()
    for name in tables:
        path = storage.table_path(data_dir, name)
        if path.exists():
            h.update(name.encode())
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return "sha256:" + h.hexdigest()


def models_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "models"


def train_all(data_dir: Path | str, progress: Progress | None = None,
              only: list[str] | None = None) -> dict[str, Any]:
    """Run every registered trainer, merge their fragments into the model card and write it."""
    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    if not storage.has_table(data_dir, "orders"):
        raise FileNotFoundError(f"no orders table in {data_dir}: run `python app.py generate` first")
    out = models_dir(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    card: dict[str, Any] = {}
    card_path = out / MODEL_CARD
    if card_path.exists():
        import json

        card = json.loads(card_path.read_text(encoding="utf-8"))
    skipped: dict[str, str] = {}
    trainers = [s for s in TRAINERS if not only or any(o in s for o in only)]
    for i, spec in enumerate(trainers):
        mod_name, fn_name = spec.split(":")
        fn = getattr(importlib.import_module(mod_name), fn_name)

        def sub(label: str, frac: float, i: int = i, mod_name: str = mod_name) -> None:
            report(f"{mod_name}: {label}", (i + max(0.0, min(1.0, frac))) / max(1, len(trainers)))

        try:
            card.update(fn(data_dir, sub) or {})
        except SkipTraining as exc:
            skipped[mod_name] = str(exc)
    card["data_fingerprint"] = data_fingerprint(data_dir)
    card["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    card["version"] = CARD_VERSION
    if skipped:
        card["skipped"] = skipped
    storage.write_json(card_path, card)
    report("done", 1.0)
    return card
