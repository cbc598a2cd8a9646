"""Experiment tracking with MLflow: every training run, and which model versions are live.

Every ``python app.py train`` (and the Logistics page's Retrain) logs one MLflow run in the experiment
``chasqui-train``: parameters (trainers, chosen models, calibration, sizes), metrics (every number of the model
card, with the bootstrap intervals' bounds), the model card itself, the SHA-256 of every artifact under
``DIR/models`` (from their manifests) and the training data's fingerprint. Each model the run trained is
registered as a new version of ``chasqui-<model>`` (e.g. ``chasqui-late_risk``) and gets the alias ``live``;
the model card records the run and the versions (``mlflow``), so the Data page can say which ones are live.

Where: ``CHASQUI_MLFLOW_URI`` when set (an MLflow tracking server, or any store URI), else MLflow's local file
store in ``DIR/mlruns`` (no server needed). MLflow is imported only inside these functions — when training and
in the Data page's background job — never when the app starts. MLflow's usage telemetry is turned off, and its
file store (in maintenance mode since MLflow 3.7) is allowed explicitly for local URIs.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.datadir import DataDir
from analytics.model_card import MANIFEST_SUFFIX

EXPERIMENT = "chasqui-train"
MODEL_PREFIX = "chasqui-"
LIVE_ALIAS = "live"
RUN_LIMIT = 20
SHOWN_METRICS = ("late_risk.roc_auc", "late_risk.ece", "delivery_days.p90_coverage", "delivery_days.mae")  # Data page
NOT_MODELS = ("skipped", "mlflow", "data_fingerprint", "created_at", "version")


class TrackingError(RuntimeError):
    """MLflow could not be reached or refused the run (the models are trained regardless)."""


def tracking_uri(data_dir: Path | str, uri: str | None = None) -> str:
    """``uri`` when given (``CHASQUI_MLFLOW_URI``), else the file store ``DIR/mlruns`` as a ``file://`` URI."""
    if uri:
        return uri
    return DataDir(Path(data_dir)).mlruns.resolve().as_uri()


def _client(uri: str) -> Any:
    """An MlflowClient for tracking and registry at ``uri`` (imports MLflow)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing may leave the machine at run time
    os.environ.setdefault("DO_NOT_TRACK", "true")
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(client: Any, create: bool) -> str | None:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        return str(exp.experiment_id)
    return str(client.create_experiment(EXPERIMENT)) if create else None


def model_fragments(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's model entries (``late_risk``, ``delivery_days``, ...), without its bookkeeping keys."""
    return {k: v for k, v in card.items() if isinstance(v, dict) and k not in NOT_MODELS}


def flat_metrics(fragments: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Every number of the model entries as ``<model>.<metric>``; interval bounds as ``_ci_low``/``_ci_high``."""
    out: dict[str, float] = {}
    for model, entry in fragments.items():
        raw = entry.get("metrics")
        nested: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for k, v in {**nested, **entry}.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[f"{model}.{k}"] = float(v)
        intervals = entry.get("intervals")
        if isinstance(intervals, dict):
            for k, v in intervals.items():
                if isinstance(v, list) and len(v) == 2:
                    out[f"{model}.{k}_ci_low"], out[f"{model}.{k}_ci_high"] = float(v[0]), float(v[1])
    return out


def artifact_hashes(data_dir: Path | str) -> dict[str, str]:
    """SHA-256 of every model artifact, from the manifests under ``DIR/models`` (path relative to it)."""
    models = DataDir(Path(data_dir)).models
    out: dict[str, str] = {}
    for manifest in sorted(models.rglob(f"*{MANIFEST_SUFFIX}")):
        try:
            sha = json.loads(manifest.read_text(encoding="utf-8")).get("sha256")
        except ValueError:
            continue
        if sha:
            out[str(manifest.relative_to(models)).removesuffix(MANIFEST_SUFFIX)] = str(sha)
    return out


def _params(card: dict[str, Any], trainers: list[str], data_dir: Path) -> dict[str, str]:
    params = {"trainers": ",".join(trainers), "data_fingerprint": str(card.get("data_fingerprint", "")),
              "card_version": str(card.get("version", ""))}
    for model, entry in model_fragments(card).items():
        for k, v in entry.items():
            if isinstance(v, str):
                params[f"{model}.{k}"] = v[:500]
            elif isinstance(v, list) and all(isinstance(x, str) for x in v) and k != "features":
                params[f"{model}.{k}"] = ",".join(v)[:500]
    meta = DataDir(data_dir).logistics_models / "logistics_meta.json"
    if meta.exists():
        m = json.loads(meta.read_text(encoding="utf-8"))
        for k in ("late_risk", "model_name", "p90_shift", "min_days"):
            if k in m:
                params[f"logistics.{k}"] = str(m[k])
    report = DataDir(data_dir).logistics_models / "logistics_report.json"
    if report.exists():
        r = json.loads(report.read_text(encoding="utf-8"))
        for k, v in (r.get("rows") or {}).items():
            params[f"logistics.rows_{k}"] = str(v)
        if r.get("calibrated_on"):
            params["logistics.calibrated_on"] = str(r["calibrated_on"])
    return params


@dataclass(frozen=True)
class TrackedRun:
    """A logged training run: its id, experiment and the model versions it registered."""

    run_id: str
    experiment_id: str
    versions: dict[str, str]  # card model key -> registered version

    def to_card(self, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """The card's ``mlflow`` entry: this run, and every model's live version (earlier runs' for models this
        run did not train)."""
        live = dict((previous or {}).get("versions") or {})
        runs = dict((previous or {}).get("runs") or {})
        live.update(self.versions)
        runs.update({k: self.run_id for k in self.versions})
        return {"run_id": self.run_id, "experiment_id": self.experiment_id, "versions": live, "runs": runs}


def log_training(data_dir: Path | str, card: dict[str, Any], trained: list[str], trainers: list[str],
                 uri: str | None = None, started: datetime | None = None) -> TrackedRun:
    """Log one training run: parameters, metrics, the model card, artifact hashes, data fingerprint; register
    a new version of every model in ``trained`` (card keys) and point its ``live`` alias at it."""
    data_dir = Path(data_dir)
    target = tracking_uri(data_dir, uri)
    try:
        client = _client(target)
        exp_id = _experiment_id(client, create=True)
        assert exp_id is not None
        fingerprint = str(card.get("data_fingerprint", ""))
        start_ms = int((started or datetime.now(UTC)).timestamp() * 1000)
        run = client.create_run(exp_id, start_time=start_ms, tags={
            "chasqui.data_fingerprint": fingerprint, "chasqui.data_dir": data_dir.name,
            "chasqui.trained": ",".join(trained), "mlflow.runName": f"train {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"})
        run_id = run.info.run_id
        fragments = {k: v for k, v in model_fragments(card).items() if k in trained}
        hashes = artifact_hashes(data_dir)
        params = _params(card, trainers, data_dir)
        params.update({f"sha256.{k}": v for k, v in hashes.items()})
        from mlflow.entities import Metric, Param

        now = int(datetime.now(UTC).timestamp() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in flat_metrics(fragments).items()],
                         params=[Param(k, str(v)) for k, v in params.items()])
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "model_card.json").write_text(json.dumps(card, indent=1, default=str), encoding="utf-8")
            (folder / "artifact_hashes.json").write_text(json.dumps(hashes, indent=1), encoding="utf-8")
            client.log_artifacts(run_id, str(folder))
        versions: dict[str, str] = {}
        for model in trained:
            name = f"{MODEL_PREFIX}{model}"
            if client.search_registered_models(filter_string=f"name = '{name}'") == []:
                client.create_registered_model(name, description=f"Chasqui {model} (trained by `python app.py "
                                                                  "train`)")
            mv = client.create_model_version(name, source=f"{run.info.artifact_uri}/model_card.json",
                                             run_id=run_id, tags={"data_fingerprint": fingerprint})
            client.set_registered_model_alias(name, LIVE_ALIAS, mv.version)
            versions[model] = str(mv.version)
        client.set_terminated(run_id, "FINISHED")
        return TrackedRun(run_id, exp_id, versions)
    except TrackingError:
        raise
    except Exception as exc:  # MLflow raises many kinds (connection, REST, file store): one clear error
        raise TrackingError(_scrub(f"could not log the training run to MLflow at {_redact(target)}: "
                                   f"{type(exc).__name__}: {exc}", target)) from exc


def _redact(uri: str) -> str:
    """A URI without its credentials (``https://user:secret@host`` -> ``https://***@host``)."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


def _scrub(text: str, uri: str) -> str:
    """``text`` without the URI's credentials wherever they appear (MLflow's errors repeat the URL)."""
    if "@" in uri and "://" in uri:
        userinfo = uri.split("://", 1)[1].split("@", 1)[0]
        if userinfo:
            text = text.replace(userinfo + "@", "***@")
    return text


@dataclass(frozen=True)
class RunSummary:
    """One training run as the Data page lists it."""

    run_id: str
    started: str  # ISO time (UTC)
    status: str
    trained: list[str]
    data_fingerprint: str
    metrics: dict[str, float]  # every metric of the run (<model>.<metric>)
    versions: dict[str, str]  # model -> version this run registered
    live: list[str] = field(default_factory=list)  # models whose live version is this run's


@dataclass(frozen=True)
class Tracking:
    """What MLflow holds for this data folder: the latest runs and the live version of each model."""

    uri: str  # without credentials
    runs: list[RunSummary]
    live: dict[str, str]  # model -> live version
    error: str | None = None


def list_runs(data_dir: Path | str, uri: str | None = None, limit: int = RUN_LIMIT) -> Tracking:
    """The latest training runs (newest first) with the versions each registered, and which are live (the
    versions the model card on disk names: the models in ``DIR/models``). Never raises: an unreachable store
    comes back with ``error`` set."""
    from analytics.model_card import read_card

    data_dir = Path(data_dir)
    target = tracking_uri(data_dir, uri)
    shown = _redact(target)
    try:
        card = read_card(data_dir)
    except (OSError, ValueError):
        card = {}
    live = {k: str(v) for k, v in ((card.get("mlflow") or {}).get("versions") or {}).items()}
    if not uri and not DataDir(data_dir).mlruns.exists():
        return Tracking(shown, [], live)
    try:
        client = _client(target)
        exp_id = _experiment_id(client, create=False)
        if exp_id is None:
            return Tracking(shown, [], live)
        runs = client.search_runs([exp_id], order_by=["attributes.start_time DESC"], max_results=limit)
        by_run: dict[str, dict[str, str]] = {}
        for model in {m for r in runs for m in (r.data.tags.get("chasqui.trained") or "").split(",") if m}:
            for mv in client.search_model_versions(f"name = '{MODEL_PREFIX}{model}'"):
                by_run.setdefault(mv.run_id, {})[model] = str(mv.version)
        out = []
        for r in runs:
            versions = by_run.get(r.info.run_id, {})
            out.append(RunSummary(
                run_id=r.info.run_id,
                started=datetime.fromtimestamp(r.info.start_time / 1000, UTC).isoformat(timespec="seconds"),
                status=str(r.info.status), trained=[m for m in (r.data.tags.get("chasqui.trained") or "").split(",")
                                                    if m],
                data_fingerprint=str(r.data.tags.get("chasqui.data_fingerprint", "")),
                metrics={k: float(v) for k, v in r.data.metrics.items()},
                versions=versions, live=sorted(m for m, v in versions.items() if live.get(m) == v)))
        return Tracking(shown, out, live)
    except Exception as exc:  # the page shows the reason instead of failing
        return Tracking(shown, [], live, error=_scrub(f"{type(exc).__name__}: {exc}", target))


__all__ = ["EXPERIMENT", "LIVE_ALIAS", "MODEL_PREFIX", "SHOWN_METRICS", "RunSummary", "TrackedRun", "Tracking", "TrackingError",
           "artifact_hashes", "flat_metrics", "list_runs", "log_training", "model_fragments", "tracking_uri"]
