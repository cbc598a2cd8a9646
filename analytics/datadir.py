"""The data folder's layout: the one place that knows where every table, model, ledger file and cache lives.

```
DATA_DIR/
  <table>.parquet | <table>/order_month=YYYY-MM/part-0.parquet   tables (analytics.storage reads and writes them)
  quarantine/<table>.parquet                                      rows that broke the table's schema
  trace_world.json                                                seeds of the demo traceability world (ground truth)
  models/model_card.json                                          the merged model card (analytics.model_card)
  models/logistics/{logistics_meta,logistics_report,scores_key}.json, *.skops, late_risk_net.keras
  models/sourcing_score.keras, models/sourcing_score_predictions.json, models/coldchain_iforest.skops
  models/shelflife/{shelflife_meta.json,shelflife_<kind>*}        the shelf-life model (analytics.shelflife)
  scenarios/saved.json                                            saved what-if scenarios
  mlruns/                                                         MLflow file store of training runs (analytics.experiments)
  ledger/{signer.key,verifier.pub,...}                            the local Merkle log (CHASQUI_LEDGER_DIR moves it)
  witness/{witness.key,witness.pub,logs/}                         a witness of other logs (python app.py witness)
  .cache/                                                         caches (CHASQUI_CACHE_DIR moves it, see below)
    ledger-trust/{pinned.pub,last_checkpoint-<key>.json}          client-side trust state of the ledger
    segments/  scenarios/  demand/  live/  live-listener.lock  results/  background/  sign-in/  spark/
```

One decision about caches: every cache lives under ONE cache folder, ``cache_dir`` when the settings name one
(``CHASQUI_CACHE_DIR``), else ``DATA_DIR/.cache``. Nothing is ever placed in ``DATA_DIR/.cache`` while another
cache folder is configured (the ledger trust state used to go to ``DATA_DIR/.cache/ledger-trust`` from the
analytics side and to ``CACHE_DIR/ledger-trust`` from the page: it is now ``cache.ledger_trust`` for both).
Code that only has a cache folder (functions taking ``cache_dir``) uses :class:`CacheDir` for the same names.

Stdlib only: the gunicorn master imports this before forking its workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODELS = "models"
MODEL_CARD = "model_card.json"
QUARANTINE = "quarantine"
LEDGER = "ledger"
CACHE = ".cache"
WITNESS = "witness"
LEDGER_PUBLIC_KEY = "verifier.pub"  # written by ledger_client.log.MerkleLog
PINNED_KEY = "pinned.pub"  # in the ledger trust folder
LAST_CHECKPOINT = "last_checkpoint.json"  # in the ledger trust folder

# logistics artifacts: a folder under models/ swapped in whole after training
LOGISTICS_MODELS = "logistics"
LOGISTICS_META = "logistics_meta.json"
LOGISTICS_REPORT = "logistics_report.json"
LOGISTICS_SCORES_KEY = "scores_key.json"
# other models, directly under models/
SOURCING_MODEL = "sourcing_score.keras"
SOURCING_PREDICTIONS = "sourcing_score_predictions.json"
COLDCHAIN_MODEL = "coldchain_iforest.skops"
# shelf-life artifacts: a folder under models/ swapped in whole after training
SHELFLIFE_MODELS = "shelflife"
SHELFLIFE_META = "shelflife_meta.json"
TRACE_WORLD = "trace_world.json"  # seeds of the demo traceability world (analytics.traceability.demo_lots)
MLRUNS = "mlruns"  # MLflow's local file store (training runs and the model registry)


def logistics_models(models_dir: Path | str) -> Path:
    """The logistics artifacts' folder under a models folder (Spark executors get the models folder only)."""
    return Path(models_dir) / LOGISTICS_MODELS


def shelflife_models(models_dir: Path | str) -> Path:
    """The shelf-life model's folder under a models folder."""
    return Path(models_dir) / SHELFLIFE_MODELS


@dataclass(frozen=True)
class CacheDir:
    """The cache folder's layout (``DataDir.cache``; see the module docstring for where it is)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def ledger_trust(self) -> Path:
        """Pinned ledger key and last checkpoint seen, kept apart from the log itself."""
        return self.root / "ledger-trust"

    @property
    def segments(self) -> Path:
        return self.root / "segments"

    @property
    def scenarios(self) -> Path:
        return self.root / "scenarios"

    @property
    def live(self) -> Path:
        """The live tiles' diskcache, shared by every worker."""
        return self.root / "live"

    @property
    def live_lock(self) -> Path:
        """Held by the one process per host that runs the live listener."""
        return self.root / "live-listener.lock"

    @property
    def results(self) -> Path:
        """Callback results cached by input (the web layer's result cache)."""
        return self.root / "results"

    @property
    def background(self) -> Path:
        """Background-callback jobs (the web layer's job manager)."""
        return self.root / "background"

    @property
    def sign_in(self) -> Path:
        """Sign-in state of the web layer: failed sign-ins per user and address, live OIDC session ids."""
        return self.root / "sign-in"

    @property
    def demand(self) -> Path:
        """Demand forecasts kept by the orders table's version, as-of date, horizon and seed."""
        return self.root / "demand"

    @property
    def spark(self) -> Path:
        """The host's Spark Connect server (state, locks, logs) and the engine's per-version summaries."""
        return self.root / "spark"


@dataclass(frozen=True)
class DataDir:
    """A data folder (``root``), with the ledger and cache folders the settings may move elsewhere."""

    root: Path
    cache_dir: Path | None = None  # None: ROOT/.cache
    ledger_dir: Path | None = None  # None: ROOT/ledger

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if self.ledger_dir is not None:
            object.__setattr__(self, "ledger_dir", Path(self.ledger_dir))

    # ---- tables
    def table_file(self, name: str) -> Path:
        """``ROOT/<name>.parquet``: where a table is written as one file."""
        return self.root / f"{name}.parquet"

    def table_folder(self, name: str) -> Path:
        """``ROOT/<name>/``: where a table is written partitioned by month."""
        return self.root / name

    def table(self, name: str) -> Path:
        """The table's file; or its partitioned folder when that holds Parquet files and no single file exists."""
        single, folder = self.table_file(name), self.table_folder(name)
        if not single.exists() and folder.is_dir() and any(folder.rglob("*.parquet")):
            return folder
        return single

    @property
    def trace_world(self) -> Path:
        """The demo traceability world: generator seed, world seed of the shelf-life truth, as-of time."""
        return self.root / TRACE_WORLD

    @property
    def quarantine(self) -> Path:
        return self.root / QUARANTINE

    def quarantine_file(self, name: str) -> Path:
        """The rows of table ``name`` that broke its schema on load, with row number and reason."""
        return self.quarantine / f"{name}.parquet"

    def import_quarantine_file(self, name: str) -> Path:
        """The rows of table ``name`` an import refused, with row number and reason."""
        return self.quarantine / f"{name}.import.parquet"

    @property
    def dataco_rejects(self) -> Path:
        """The raw CSV lines a DataCo import refused."""
        return self.quarantine / "dataco_import.csv"

    @property
    def saved_scenarios(self) -> Path:
        return self.root / "scenarios" / "saved.json"

    # ---- models
    @property
    def models(self) -> Path:
        return self.root / MODELS

    @property
    def mlruns(self) -> Path:
        """MLflow's local file store: every training run and the model registry (unless CHASQUI_MLFLOW_URI)."""
        return self.root / MLRUNS

    @property
    def model_card(self) -> Path:
        return self.models / MODEL_CARD

    @property
    def logistics_models(self) -> Path:
        return logistics_models(self.models)

    @property
    def logistics_scores_key(self) -> Path:
        """Which orders file and which models the ``logistics_scores`` table was written from."""
        return self.logistics_models / LOGISTICS_SCORES_KEY

    @property
    def sourcing_model(self) -> Path:
        return self.models / SOURCING_MODEL

    @property
    def sourcing_predictions(self) -> Path:
        return self.models / SOURCING_PREDICTIONS

    @property
    def coldchain_model(self) -> Path:
        return self.models / COLDCHAIN_MODEL

    @property
    def shelflife_models(self) -> Path:
        return shelflife_models(self.models)

    # ---- ledger
    @property
    def ledger(self) -> Path:
        """The local Merkle log folder (signer key, public key, leaves, checkpoints)."""
        return self.ledger_dir if self.ledger_dir is not None else self.root / LEDGER

    @property
    def ledger_public_key(self) -> Path:
        """The log's public key as the log publishes it (pinned into ``ledger_trust`` on first use)."""
        return self.ledger / LEDGER_PUBLIC_KEY

    @property
    def ledger_trust(self) -> Path:
        return self.cache.ledger_trust

    @property
    def witness(self) -> Path:
        """Witness state (its Ed25519 key, the last checkpoint it cosigned per log): ``python app.py witness``."""
        return self.root / WITNESS

    @property
    def pinned_key(self) -> Path:
        return self.ledger_trust / PINNED_KEY

    @property
    def last_checkpoint(self) -> Path:
        return self.ledger_trust / LAST_CHECKPOINT

    # ---- caches
    @property
    def cache(self) -> CacheDir:
        return CacheDir(self.cache_dir if self.cache_dir is not None else self.root / CACHE)


__all__ = ["CacheDir", "DataDir", "logistics_models", "shelflife_models"]
