"""`python app.py train`: train every model the data supports and write DIR/models/model_card.json.

Trainers are callables (see :mod:`analytics.model_card` for their contract), listed by
:func:`default_trainers`; ``train_all`` runs them in order and merges their fragments into the card.
A trainer that raises ``SkipTraining`` is recorded under ``skipped`` by its module name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics import storage
from analytics.datadir import MODEL_CARD, DataDir
from analytics.model_card import CARD_VERSION, SkipTraining, data_fingerprint, read_card

Progress = Callable[[str, float], None]
Trainer = Callable[[Path, Progress], dict[str, Any]]


def default_trainers() -> tuple[Trainer, ...]:
    """Every model Chasqui trains, in order: logistics (late risk, delivery days), sourcing score, cold chain.

    The trainer modules are imported here, when training is asked for, not when this module is imported.
    """
    from analytics.live.coldchain import train as train_coldchain
    from analytics.logistics.train import train as train_logistics
    from analytics.sourcing.model import train_sourcing_model

    return (train_logistics, train_sourcing_model, train_coldchain)


def train_all(data_dir: Path | str, progress: Progress | None = None,
              trainers: Sequence[Trainer] | None = None) -> dict[str, Any]:
    """Run the trainers (default: :func:`default_trainers`), merge their fragments into the model card, write it.

    Fragments merge into the card already on disk, so training one model keeps the others' entries.
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
    for i, fn in enumerate(chosen):
        name = fn.__module__

        def sub(label: str, frac: float, i: int = i, name: str = name) -> None:
            report(f"{name}: {label}", (i + max(0.0, min(1.0, frac))) / max(1, len(chosen)))

        try:
            card.update(fn(data_dir, sub) or {})
        except SkipTraining as exc:
            skipped[name] = str(exc)
    card["data_fingerprint"] = data_fingerprint(data_dir)
    card["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    card["version"] = CARD_VERSION
    if skipped:
        card["skipped"] = skipped
    storage.write_json(layout.model_card, card)
    report("done", 1.0)
    return card


__all__ = ["MODEL_CARD", "Progress", "SkipTraining", "Trainer", "data_fingerprint", "default_trainers", "train_all"]
