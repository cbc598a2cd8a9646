"""`python app.py train`: train every model the data supports and write DIR/models/model_card.json.

Trainers are callables (see :mod:`analytics.model_card` for their contract), listed by
:func:`default_trainers`; ``train_all`` runs them in order and merges their fragments into the card.
A trainer that raises ``SkipTraining`` is recorded under ``skipped`` by its module name. Every run is logged
to MLflow (:mod:`analytics.experiments`; the card's ``mlflow`` entry names the run and the live versions).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics import storage
from analytics.datadir import MODEL_CARD, DataDir
from analytics.model_card import CARD_VERSION, SkipTraining, data_fingerprint, read_card

Progress = Callable[[str, float], None]
Trainer = Callable[[Path, Progress], dict[str, Any]]
log = logging.getLogger(__name__)


def default_trainers() -> tuple[Trainer, ...]:
    """Every model Chasqui trains, in order: logistics (late risk, delivery days), sourcing score, cold chain,
    shelf life at arrival of the agro lots (the card's ``quality`` section), weekly demand per DC and category
    (the card's ``demand`` section).

    The trainer modules are imported here, when training is asked for, not when this module is imported.
    """
    from analytics.demand.trainer import train as train_demand
    from analytics.live.coldchain import train as train_coldchain
    from analytics.logistics.train import train as train_logistics
    from analytics.shelflife.model import train as train_shelflife
    from analytics.sourcing.model import train_sourcing_model

    return (train_logistics, train_sourcing_model, train_coldchain, train_shelflife, train_demand)


def train_all(data_dir: Path | str, progress: Progress | None = None,
              trainers: Sequence[Trainer] | None = None, tracking_uri: str | None = None,
              track: bool = True) -> dict[str, Any]:
    """Run the trainers (default: :func:`default_trainers`), merge their fragments into the model card, log the
    run to MLflow (``tracking_uri``: ``CHASQUI_MLFLOW_URI``; None = the file store ``DIR/mlruns``), write the card.

    Fragments merge into the card already on disk, so training one model keeps the others' entries. A run MLflow
    cannot take is reported in the card (``mlflow.error``) and the log; the trained models stay.
    """
    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    if not storage.has_table(data_dir, "orders"):
        raise FileNotFoundError(f"no orders table in {data_dir}: run `python app.py generate` first")
    layout = DataDir(data_dir)
    layout.models.mkdir(parents=True, exist_ok=True)
    card: dict[str, Any] = read_card(data_dir)
    skipped: dict[str, str] = {}
    chosen = tuple(trainers) if trainers is not None else default_trainers()
    started = datetime.now(UTC)
    trained: list[str] = []
    for i, fn in enumerate(chosen):
        name = fn.__module__

        def sub(label: str, frac: float, i: int = i, name: str = name) -> None:
            report(f"{name}: {label}", (i + max(0.0, min(1.0, frac))) / max(1, len(chosen)))

        try:
            fragment = fn(data_dir, sub) or {}
        except SkipTraining as exc:
            skipped[name] = str(exc)
            continue
        card.update(fragment)
        trained += [k for k, v in fragment.items() if isinstance(v, dict)]
    card["data_fingerprint"] = data_fingerprint(data_dir)
    card["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    card["version"] = CARD_VERSION
    if skipped:
        card["skipped"] = skipped
    if track and trained:
        from analytics.experiments import TrackingError, log_training

        previous = card.pop("mlflow", None)
        try:
            run = log_training(data_dir, card, trained, [fn.__module__ for fn in chosen], tracking_uri, started)
            card["mlflow"] = run.to_card(previous)
        except TrackingError as exc:
            log.warning("%s", exc)
            card["mlflow"] = {**(previous or {}), "error": str(exc)}
    storage.write_json(layout.model_card, card)
    report("done", 1.0)
    return card


__all__ = ["MODEL_CARD", "Progress", "SkipTraining", "Trainer", "data_fingerprint", "default_trainers", "train_all"]
