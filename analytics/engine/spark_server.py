"""One Spark per host: a Spark Connect server on loopback that every Chasqui process shares.

With ``CHASQUI_ENGINE=spark`` and a master that is not a Spark Connect URL (``local[*]``, the default, or a
cluster: ``spark://``, ``yarn``, ``k8s://``), no Chasqui process starts a Spark driver of its own. The first
process that needs Spark starts ONE Spark Connect server (``org.apache.spark.sql.connect.service
.SparkConnectServer`` from the pyspark package, bound to 127.0.0.1 on a free port, driving that master); every
gunicorn worker, background job and CLI command on the host then connects to it with ``sc://127.0.0.1:PORT``.
An ``sc://`` master is used as it is and nothing is started.

Who starts it: a file lock (``CACHE_DIR/spark/server/start.lock``) held while one process checks the state file
and, if no live server is recorded, launches a small *supervisor* (``python -m analytics.engine.spark_server
supervise``), detached from the caller, which runs the JVM as its child and writes ``server.json`` once the
port answers. The others wait on the lock, then read the state. Everything lives in the cache folder, like the
live listener's lock, so "per host" means per Chasqui deployment (one cache folder) on a host.

How long it lives: every process using the server holds a shared lock on ``users.lock`` (a :class:`Lease`,
released when the process exits, even by a crash). The supervisor stops the JVM once nobody has held a lease
for ``idle`` seconds (default 15 minutes; ``--idle 0`` keeps it up); a gunicorn restart or a gap between
background jobs does not stop it. ``python -m analytics.engine.spark_server stop --cache-dir DIR`` stops it at
once; ``status`` says what runs. If the supervisor is killed, the JVM gets SIGTERM (PR_SET_PDEATHSIG).

Stdlib + psutil only: no pyspark here (the client session is built in ``analytics.engine.spark_engine``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from analytics.datadir import CacheDir

HOST = "127.0.0.1"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
IDLE_SECONDS = 900.0  # no process used the server for this long: the supervisor stops it
START_SECONDS = 300.0  # a JVM start takes ~10 s on an idle machine, over a minute on a loaded one
STATE = "server.json"
ROOT = Path(__file__).resolve().parents[2]  # the checkout: the supervisor and Spark's Python workers import from it
LIMA_TZ = "America/Lima"

# JVM settings of the server Chasqui starts (the session's own SQL settings are sent by each client).
SERVER_CONF: dict[str, str] = {
    "spark.connect.grpc.binding.address": HOST,
    "spark.driver.host": HOST,
    "spark.driver.bindAddress": HOST,
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": LIMA_TZ,
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.extraJavaOptions": f"-Duser.timezone={LIMA_TZ}",
    "spark.executor.extraJavaOptions": f"-Duser.timezone={LIMA_TZ}",
    # Python workers (batch scoring with the logistics models) run this interpreter and import this checkout;
    # on a cluster both paths must exist on every worker (see README, Scale-out).
    "spark.pyspark.python": sys.executable,
    "spark.pyspark.driver.python": sys.executable,
    "spark.executorEnv.PYTHONPATH": str(ROOT),
}


class SparkServerError(RuntimeError):
    """The host's Spark Connect server could not be started or reached."""


@dataclass(frozen=True)
class ServerInfo:
    """What ``server.json`` records about the running server."""

    url: str  # sc://127.0.0.1:PORT
    port: int
    master: str
    jvm_pid: int
    jvm_started: float
    supervisor_pid: int
    supervisor_started: float
    ready: bool


def server_dir(cache_dir: Path | str) -> Path:
    """Where the host's server keeps its state, locks and logs (``CACHE_DIR/spark/server``)."""
    return CacheDir(Path(cache_dir)).spark / "server"


def spark_home() -> Path:
    """The pyspark package folder: it ships ``bin/spark-submit``, the jars and ``sbin/``."""
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise SparkServerError("pyspark is not installed (pip install -r requirements.txt)")
    return Path(spec.origin).parent


def server_command(master: str, port: int, conf: dict[str, str] | None = None) -> list[str]:
    """``spark-submit`` running the Connect server in the foreground (it execs into the JVM: one pid)."""
    settings = {**SERVER_CONF, **(conf or {}), "spark.connect.grpc.binding.port": str(port)}
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name", "Chasqui Spark Connect",
           "--master", master]
    for k, v in settings.items():
        cmd += ["--conf", f"{k}={v}"]
    return cmd


def server_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": HOST, "SPARK_LOG_DIR": str(folder / "logs"),
                "SPARK_PID_DIR": str(folder), "PYSPARK_PYTHON": sys.executable,
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    env.pop("SPARK_REMOTE", None)
    env.pop("SPARK_CONNECT_MODE_ENABLED", None)
    return env


# -- processes and locks -----------------------------------------------------------------------------
def _started(pid: int) -> float | None:
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped by its parent
            return None
        return float(proc.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def _same_process(pid: int, started: float) -> bool:
    now = _started(pid)
    return now is not None and abs(now - started) < 0.5


def _answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _exclusive(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (waiting up to ``timeout`` s for it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SparkServerError(f"another process holds {path} (starting Spark?) for over "
                                           f"{timeout:.0f} s") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Lease:
    """This process uses the host's server: a shared lock on ``users.lock`` until :meth:`close` (or exit)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(folder / "users.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unused(folder: Path) -> bool:
    """True when no process holds a lease (tries the exclusive lock and gives it back at once)."""
    fd = os.open(folder / "users.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


# -- state ---------------------------------------------------------------------------------------------
def _read(folder: Path) -> ServerInfo | None:
    try:
        raw = json.loads((folder / STATE).read_text())
        return ServerInfo(**raw)
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _write(folder: Path, info: ServerInfo) -> None:
    tmp = folder / f".{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(info)))
    os.replace(tmp, folder / STATE)


def _forget(folder: Path, supervisor_pid: int) -> None:
    """Remove the state file if it still describes the server of ``supervisor_pid``."""
    info = _read(folder)
    if info is not None and info.supervisor_pid == supervisor_pid:
        (folder / STATE).unlink(missing_ok=True)


def _live(info: ServerInfo) -> bool:
    return (_same_process(info.supervisor_pid, info.supervisor_started)
            and _same_process(info.jvm_pid, info.jvm_started))


def current(folder: Path) -> ServerInfo | None:
    """The server recorded in ``folder`` if its processes are alive and its port answers, else None."""
    info = _read(folder)
    if info is None or not info.ready or not _live(info) or not _answers(info.port):
        return None
    return info


def _log_tail(folder: Path, lines: int = 15) -> str:
    out = []
    for name in ("supervisor.log", "server.log"):
        with contextlib.suppress(OSError):
            text = (folder / name).read_text(errors="replace").strip().splitlines()
            if text:
                out.append(f"--- {name} ---\n" + "\n".join(text[-lines:]))
    return "\n".join(out)


# -- client side ---------------------------------------------------------------------------------------
def ensure_server(folder: Path, master: str = "local[*]", conf: dict[str, str] | None = None, *,
                  timeout: float = START_SECONDS, idle: float = IDLE_SECONDS,
                  command: Sequence[str] | None = None) -> tuple[ServerInfo, Lease]:
    """The host's Connect server for ``master`` (started if none runs) and this process's lease on it.

    Raises SparkServerError when it cannot start in ``timeout`` seconds (the logs' last lines say why) or when
    the running server drives another master (stop it first: two JVMs per host is what this module prevents).
    ``command`` replaces the JVM command (``{port}`` is filled in); tests use it to run without Java.
    """
    if master.startswith("sc://"):
        raise SparkServerError(f"{master!r} is a Spark Connect URL: connect to it, nothing to start")
    folder = Path(folder)
    lease = Lease(folder)  # before looking: a server we find cannot go idle under us
    try:
        with _exclusive(folder / "start.lock", timeout):
            info = _read(folder)
            if info is not None and _live(info):
                if info.master != master:
                    raise SparkServerError(
                        f"this host's Spark Connect server drives {info.master!r}, not {master!r}; stop it first "
                        f"(python -m analytics.engine.spark_server stop --cache-dir ...)")
                if not info.ready:  # its starter gave up waiting; the supervisor goes on: wait for it
                    return _wait_ready(folder, info.supervisor_pid, timeout), lease
                if _answers(info.port, timeout=2.0):
                    return info, lease
            if info is not None:  # stale: a crashed server, or one that stopped answering
                _stop(folder, info)
            proc = _launch(folder, master, conf, idle, command)
            return _wait_ready(folder, proc.pid, timeout, proc), lease
    except BaseException:
        lease.close()
        raise


def _launch(folder: Path, master: str, conf: dict[str, str] | None, idle: float,
            command: Sequence[str] | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "analytics.engine.spark_server", "supervise", "--dir", str(folder),
            "--master", master, "--idle", str(idle), "--conf", json.dumps(conf or {})]
    if command is not None:
        args += ["--command", json.dumps(list(command))]
    log = open(folder / "supervisor.log", "ab")  # handed to the child, closed here once it has it
    try:
        proc = subprocess.Popen(args, cwd=ROOT, env=server_env(folder), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    # the supervisor outlives requests (and usually this process): reap it when it ends, leave no zombie
    threading.Thread(target=proc.wait, name="spark-supervisor-reaper", daemon=True).start()
    return proc


def _wait_ready(folder: Path, supervisor_pid: int, timeout: float,
                proc: subprocess.Popen[bytes] | None = None) -> ServerInfo:
    deadline = time.monotonic() + timeout
    while True:
        info = _read(folder)
        if info is not None and info.supervisor_pid == supervisor_pid and info.ready and _answers(info.port):
            return info
        gone = proc.poll() is not None if proc is not None else _started(supervisor_pid) is None
        if gone:
            raise SparkServerError(f"the Spark Connect server did not start\n{_log_tail(folder)}")
        if time.monotonic() > deadline:
            if info is not None and info.supervisor_pid == supervisor_pid:
                _stop(folder, info)
            elif proc is not None:
                proc.terminate()
            raise SparkServerError(f"the Spark Connect server did not answer within {timeout:.0f} s "
                                   f"(is Java 17 installed?)\n{_log_tail(folder)}")
        time.sleep(0.25)


def _stop(folder: Path, info: ServerInfo, timeout: float = 60.0) -> None:
    """Stop a recorded server: its supervisor (which stops the JVM), then the JVM if it is still there."""
    for pid, started, sig in ((info.supervisor_pid, info.supervisor_started, signal.SIGTERM),
                              (info.jvm_pid, info.jvm_started, signal.SIGTERM)):
        if _same_process(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (_same_process(info.jvm_pid, info.jvm_started)
                                           or _same_process(info.supervisor_pid, info.supervisor_started)):
        time.sleep(0.2)
    if _same_process(info.jvm_pid, info.jvm_started):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.jvm_pid, signal.SIGKILL)
    _forget(folder, info.supervisor_pid)


def stop_server(folder: Path, timeout: float = 60.0) -> bool:
    """Stop the host's server now (whoever uses it). Returns False when none was recorded."""
    folder = Path(folder)
    info = _read(folder)
    if info is None:
        return False
    _stop(folder, info, timeout)
    return True


# -- the supervisor (a detached process) --------------------------------------------------------------
def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def supervise(folder: Path, master: str, conf: dict[str, str], idle: float,
              command: Sequence[str] | None = None, check_every: float = 1.0) -> int:
    """Run the JVM, record it, stop it when unused for ``idle`` s (never if ``idle`` <= 0) or on SIGTERM."""
    folder.mkdir(parents=True, exist_ok=True)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    port = _free_port()
    cmd = [c.replace("{port}", str(port)) for c in command] if command else server_command(master, port, conf)
    me, my_start = os.getpid(), _started(os.getpid()) or 0.0
    with open(folder / "server.log", "ab") as log:
        jvm = subprocess.Popen(cmd, cwd=folder, env=server_env(folder), stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    info = ServerInfo(url=f"sc://{HOST}:{port}", port=port, master=master, jvm_pid=jvm.pid,
                      jvm_started=_started(jvm.pid) or 0.0, supervisor_pid=me, supervisor_started=my_start,
                      ready=False)
    _write(folder, info)
    code = 0
    try:
        while not _answers(port):
            if stopping or jvm.poll() is not None:
                print(f"spark server exited before answering (code {jvm.poll()})", flush=True)
                return 1
            time.sleep(0.25)
        info = ServerInfo(**{**asdict(info), "ready": True})
        _write(folder, info)
        print(f"spark connect server ready: {info.url} master={master} pid={jvm.pid}", flush=True)
        idle_since: float | None = None
        while not stopping:
            time.sleep(check_every)
            if jvm.poll() is not None:
                print(f"spark server exited (code {jvm.returncode})", flush=True)
                code = 1
                break
            if idle <= 0:
                continue
            if not _unused(folder):
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= idle:
                try:  # a client starting up holds the start lock: check again later
                    with _exclusive(folder / "start.lock", 0.0):
                        if _unused(folder):
                            _forget(folder, me)
                            print(f"unused for {idle:.0f} s: stopping", flush=True)
                            _terminate(jvm)
                            break
                except SparkServerError:
                    pass
        return code
    finally:
        _forget(folder, me)
        _terminate(jvm)


def _terminate(proc: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analytics.engine.spark_server start|status|stop --cache-dir DIR`` (and ``supervise``)."""
    ap = argparse.ArgumentParser(prog="python -m analytics.engine.spark_server", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("start", "status", "stop"):
        sp = sub.add_parser(name)
        sp.add_argument("--cache-dir", type=Path, required=True, help="Chasqui's cache folder (CHASQUI_CACHE_DIR)")
        if name == "start":
            sp.add_argument("--master", default="local[*]")
            sp.add_argument("--idle", type=float, default=0.0, help="stop when unused this long (0: never)")
    sp = sub.add_parser("supervise")
    sp.add_argument("--dir", type=Path, required=True)
    sp.add_argument("--master", required=True)
    sp.add_argument("--idle", type=float, default=IDLE_SECONDS)
    sp.add_argument("--conf", default="{}")
    sp.add_argument("--command", default=None)
    args = ap.parse_args(argv)
    if args.cmd == "supervise":
        command: Any = json.loads(args.command) if args.command else None
        return supervise(args.dir, args.master, json.loads(args.conf), args.idle, command)
    folder = server_dir(args.cache_dir)
    if args.cmd == "start":
        info, lease = ensure_server(folder, args.master, idle=args.idle)
        lease.close()
        print(info.url)
        return 0
    if args.cmd == "stop":
        print("stopped" if stop_server(folder) else "no server recorded")
        return 0
    running = current(folder)
    print(f"{running.url} master={running.master} pid={running.jvm_pid}" if running else "not running")
    return 0 if running else 3


if __name__ == "__main__":
    sys.exit(main())
