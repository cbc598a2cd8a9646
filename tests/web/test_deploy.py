"""Deployment files, validated without Docker or a cluster: they parse, reference what exists, and the
image's commands run here as plain shell steps where that is possible."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

yaml = pytest.importorskip("yaml")

DEPLOY = ROOT / "deploy"


def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_yaml_files_parse():
    files = [DEPLOY / "compose.yaml", DEPLOY / "prometheus.yml", DEPLOY / "alerts.yml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]
    assert len(files) >= 7
    for f in files:
        assert isinstance(_load(f), dict), f


def test_compose_runs_chasqui_with_kafka_spark_and_prometheus():
    compose = _load(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert {"chasqui", "kafka", "spark-master", "spark-worker", "prometheus"} <= set(services)
    pyspark = re.search(r"^pyspark==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    for name in ("spark-master", "spark-worker"):
        assert services[name]["image"].endswith(":" + pyspark), "Spark image must match the pinned pyspark"
    env = services["chasqui"]["environment"]
    assert env["CHASQUI_KAFKA_BOOTSTRAP"] == "kafka:9092" and env["CHASQUI_SPARK_MASTER"].startswith("spark://")
    from web.settings import ENV_VARS

    known = {v[0] for v in ENV_VARS.values()} | {"WEB_CONCURRENCY"}
    assert set(env) <= known, set(env) - known
    assert "9092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    build = services["chasqui-prepare"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    for vol in services["prometheus"]["volumes"]:
        src = vol.split(":")[0]
        assert (DEPLOY / src).exists(), src
    topics = services["kafka-topics"]["command"][0]
    for t in ("chasqui.orders", "chasqui.shipments", "chasqui.iot", "chasqui.dlq"):
        assert t in topics


def _declared_metrics() -> set[str]:
    names = set()
    for f in [*(ROOT / "analytics").rglob("*.py"), *(ROOT / "web").rglob("*.py")]:
        names |= set(re.findall(r"""(?:Counter|Gauge|Histogram|Summary)\(\s*(?:#[^\n]*\n\s*)?["'](chasqui_[a-z_]+)["']""", f.read_text()))
    return names


def test_alert_rules_cover_the_four_signals_with_real_metric_names():
    rules = {r["alert"]: r for g in _load(DEPLOY / "alerts.yml")["groups"] for r in g["rules"]}
    needed = {"ChasquiConsumerLagHigh": "chasqui_consumer_lag", "ChasquiDeadLetterRateHigh":
              "chasqui_events_dead_lettered_total", "ChasquiCallbackLatencyHigh": "chasqui_callback_seconds_bucket",
              "ChasquiModelStale": "chasqui_model_trained_timestamp_seconds"}
    declared = _declared_metrics()
    assert {"chasqui_consumer_lag", "chasqui_callback_seconds", "chasqui_model_trained_timestamp_seconds"} <= declared
    for alert, metric in needed.items():
        assert metric in rules[alert]["expr"], alert
    for rule in rules.values():
        assert rule["expr"].count("(") == rule["expr"].count(")")
        assert "summary" in rule["annotations"] and rule["labels"]["severity"]
        for used in re.findall(r"chasqui_[a-z_]+", rule["expr"]):
            base = re.sub(r"_(bucket|count|sum)$", "", used)
            assert base in declared, (rule["alert"], used)
    prom = _load(DEPLOY / "prometheus.yml")
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == ["chasqui:9150"]
    assert "METRICS_PORT=9150" in (ROOT / "Dockerfile").read_text()


def test_kubernetes_manifests():
    docs = {(_load(f)["kind"]): _load(f) for f in (DEPLOY / "k8s").glob("*.yaml")}
    assert {"Deployment", "Service", "ConfigMap", "PersistentVolumeClaim"} <= set(docs)
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/healthz", probe
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["readOnlyRootFilesystem"]
    cmd = json.loads(dict(_dockerfile())["CMD"])
    assert c["args"] == cmd
    svc = docs["Service"]["spec"]
    assert svc["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]
    assert svc["ports"][0]["targetPort"] == c["ports"][0]["name"]
    from web.settings import ENV_VARS

    known = {v[0] for v in ENV_VARS.values()} | {"WEB_CONCURRENCY"}
    assert set(docs["ConfigMap"]["data"]) <= known
    # background jobs bounded by the pod's CPU limit, not by the node's CPU count
    cpu_limit = int(str(c["resources"]["limits"]["cpu"]))
    assert int(docs["ConfigMap"]["data"]["CHASQUI_MAX_JOBS"]) == cpu_limit
    # OIDC settings come from an optional Secret (the pod starts without one: sign-in then stays off)
    assert {"secretRef": {"name": "chasqui-oidc", "optional": True}} in c["envFrom"]
    assert {"CHASQUI_OIDC_ISSUER", "CHASQUI_OIDC_CLIENT_SECRET", "CHASQUI_SECRET_KEY"} <= known


def test_dockerfile_is_multistage_slim_non_root_and_copies_what_exists():
    steps = _dockerfile()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) >= 2 and all("slim" in f or "PYTHON_IMAGE" in f for f in froms)
    assert "slim" in dict(steps)["ARG"]
    last_from = max(i for i, (w, _) in enumerate(steps) if w == "FROM")
    users = [rest for i, (w, rest) in enumerate(steps) if w == "USER" and i > last_from]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    for word, rest in steps:
        if word == "COPY" and "--from" not in rest:
            *sources, _dest = rest.split()
            for s in sources:
                assert (ROOT / s).exists(), s
    ignored = (ROOT / ".dockerignore").read_text()
    for must in (".git", ".venv", "data/demo", "tests"):
        assert must in ignored.split()
    # the build step installs only pinned requirements (the RUN itself needs the network: not run here)
    reqs = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert all(re.match(r"^[A-Za-z0-9_.\[\]-]+==[\w.]+$", ln) for ln in reqs), reqs
    assert any(ln.startswith("gunicorn==") for ln in reqs)


def test_image_cmd_runs_as_a_plain_shell_step(settings, tmp_path):
    """The CMD's gunicorn with the image's environment: the config imports and the app loads."""
    steps = _dockerfile()
    env = {}
    for word, rest in steps:
        if word == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
    env.update({"CHASQUI_DATA_DIR": str(settings.data_dir), "CHASQUI_CACHE_DIR": str(tmp_path / "cache"),
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "CHASQUI_LIVE": "0", "CHASQUI_DEMO_FEED": "0"})
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    cmd = json.loads(dict(steps)["CMD"])
    assert cmd[:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    r = subprocess.run([*cmd[:-1], "--check-config", cmd[-1]], cwd=ROOT, env={**os.environ, **env},
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "prom").is_dir()  # the config created the multiprocess folder before the app loaded


MASTER_SCRAPE = """
import json, runpy, sys
conf = runpy.run_path("deploy/gunicorn.conf.py")
samples = {}
for family in conf["_MasterCollector"]().collect():
    if family.name == "chasqui_model_trained_timestamp_seconds":
        samples = {s.labels["model"]: s.value for s in family.samples}
print(json.dumps({"samples": samples, "heavy": sorted(m for m in ("polars", "dash", "sklearn") if m in sys.modules)}))
"""


def test_gunicorn_master_reads_model_ages_from_the_data_folder(tmp_path):
    """The master's metrics port reads model ages like the app (the data folder's model card and manifests),
    without importing polars or Dash before it forks the workers."""
    from datetime import datetime

    from analytics.datadir import DataDir

    data = DataDir(tmp_path / "data")
    data.models.mkdir(parents=True)
    created = "2025-03-01T10:00:00+00:00"
    data.model_card.write_text(json.dumps({"created_at": created, "late_risk": {"auc": 0.81},
                                           "skipped": {"sourcing": "no suppliers"}}), encoding="utf-8")
    (data.models / "segments_kmeans.manifest.json").write_text(
        json.dumps({"name": "segments_kmeans", "created_at": "2025-04-02T00:00:00+00:00"}), encoding="utf-8")
    env = {**os.environ, "CHASQUI_DATA_DIR": str(data.root), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    r = subprocess.run([sys.executable, "-c", MASTER_SCRAPE], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["samples"] == {"late_risk": datetime.fromisoformat(created).timestamp(),
                              "segments_kmeans": datetime.fromisoformat("2025-04-02T00:00:00+00:00").timestamp()}
    assert out["heavy"] == []


def test_one_entry_point_everywhere_with_a_worker_class_that_survives_slow_clients():
    """The README's production command is the image's CMD and the k8s container's args (compose runs the image's
    CMD); its config asks for gevent workers, whose package is pinned and importable."""
    import runpy

    cmd = json.loads(dict(_dockerfile())["CMD"])
    assert " ".join(cmd) == "gunicorn -c deploy/gunicorn.conf.py app:server"
    assert " ".join(cmd) in (ROOT / "README.md").read_text(encoding="utf-8")
    deployment = _load(DEPLOY / "k8s" / "deployment.yaml")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == cmd
    assert "command" not in _load(DEPLOY / "compose.yaml")["services"]["chasqui"]
    saved = dict(os.environ)  # the config sets PROMETHEUS_MULTIPROC_DIR: keep this process as it was
    try:
        conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert conf["worker_connections"] >= 100 and "threads" not in conf
    pins = dict(ln.split("==") for ln in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in ln and not ln.startswith("#"))
    from importlib import metadata

    assert pins["gevent"] == metadata.version("gevent")
    from gunicorn.util import load_class
    from gunicorn.workers.ggevent import GeventWorker

    assert conf["worker_class"] == "web.gunicorn_worker.ChasquiGeventWorker"
    assert issubclass(load_class(conf["worker_class"]), GeventWorker)  # gevent's, closing idle keep-alives on stop
