"""The model card (``DATA_DIR/models/model_card.json``) and the trainer contract around it.

A trainer is a callable ``fn(data_dir: Path, progress) -> dict`` returning its fragment of the card
(e.g. ``{"late_risk": {...}, "delivery_days": {...}}``), or raising :class:`SkipTraining` when the data does not
support it; :mod:`analytics.training` runs them and writes the card. This module is also the one reader of
what is trained (card entries and artifact manifests), for the Data page and the model-age metric.

Stdlib only: the gunicorn master reads model ages with it before forking its workers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from analytics.datadir import MODEL_CARD, DataDir

CARD_VERSION = "1"
MANIFEST_SUFFIX = ".manifest.json"  # see analytics.artifacts
METRIC_LABEL_MAX = 60  # model names are cut to this length in metric labels


class SkipTraining(Exception):
    """A trainer cannot run on this data (e.g. no suppliers table); the reason is recorded."""


def data_fingerprint(data_dir: Path | str, tables: tuple[str, ...] = ("orders", "customers")) -> str:
    """SHA-256 over the bytes of the given tables (what a model was trained on)."""
    layout = DataDir(Path(data_dir))
    h = hashlib.sha256()
    for name in tables:
        path = layout.table(name)
        if path.exists():
            h.update(name.encode())
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return "sha256:" + h.hexdigest()


def read_card(data_dir: Path | str) -> dict[str, Any]:
    """The model card, or ``{}`` before training. Raises ValueError for a card that is not JSON."""
    path = DataDir(Path(data_dir)).model_card
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def model_catalog(data_dir: Path | str) -> list[dict[str, Any]]:
    """Every trained model: from the model card and the artifact manifests in DIR/models/.

    Each entry: ``model``, ``kind``, ``metrics`` (numbers only), ``created_at`` (ISO text or None), ``source``.
    """
    models_dir = DataDir(Path(data_dir)).models
    if not models_dir.exists():
        return []
    out: list[dict[str, Any]] = []
    card = read_card(data_dir)
    for key, value in card.items():
        if isinstance(value, dict) and key not in ("skipped", "mlflow"):
            # a trainer reports its metrics either flat in its entry or under "metrics"
            nested = value.get("metrics")
            metrics = {k: v for k, v in {**(nested if isinstance(nested, dict) else {}), **value}.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
            out.append({"model": key, "kind": str(value.get("model", "")), "metrics": metrics,
                        "created_at": card.get("created_at"), "source": MODEL_CARD})
    for manifest in sorted(models_dir.glob(f"*{MANIFEST_SUFFIX}")):
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError:
            continue
        name = m.get("name") or manifest.name.removesuffix(MANIFEST_SUFFIX)
        if any(o["model"] == name for o in out):
            continue
        metrics = {k: v for k, v in (m.get("metrics") or {}).items() if isinstance(v, (int, float))}
        out.append({"model": name, "kind": str(m.get("kind", "")), "metrics": metrics,
                    "created_at": m.get("created_at"), "source": manifest.name})
    return out


def metric_interval(entry: dict[str, Any], metric: str) -> tuple[float, float] | None:
    """A metric's bootstrap confidence interval from a card entry (``entry["intervals"][metric]``), or None."""
    intervals = entry.get("intervals") if isinstance(entry, dict) else None
    value = intervals.get(metric) if isinstance(intervals, dict) else None
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return float(value[0]), float(value[1])
    return None


def trained_timestamps(data_dir: Path | str) -> dict[str, float]:
    """When each model was trained (Unix seconds) by model name cut to ``METRIC_LABEL_MAX`` characters.

    For ``chasqui_model_trained_timestamp_seconds``. An unreadable card or a model without a readable
    creation time is left out (the gauge then has no sample for it), never an error.
    """
    try:
        entries = model_catalog(data_dir)
    except (OSError, ValueError):
        return {}
    out: dict[str, float] = {}
    for entry in entries:
        try:
            ts = datetime.fromisoformat(str(entry.get("created_at"))).timestamp()
        except ValueError:
            continue
        out.setdefault(str(entry["model"])[:METRIC_LABEL_MAX], ts)
    return out


__all__ = ["CARD_VERSION", "SkipTraining", "data_fingerprint", "metric_interval", "model_catalog", "read_card",
           "trained_timestamps"]
