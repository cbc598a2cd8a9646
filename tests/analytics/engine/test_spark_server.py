"""The host's Spark Connect server: one per cache folder, started by whoever needs it first (a file lock),
shared by every process, stopped when unused. A stand-in server (a Python listener) replaces the JVM here;
the cluster tests (``-m cluster``) run the real one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from analytics.engine import spark_server as ss

ROOT = Path(__file__).resolve().parents[3]
# listens on the port the supervisor chose; "slow" waits before listening (a JVM starting)
FAKE = [sys.executable, "-c", textwrap.dedent("""
    import socket, sys, time
    if "slow" in sys.argv: time.sleep(1.5)
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", {port})); s.listen(8)
    while True:
        c, _ = s.accept(); c.close()
"""), "slow"]
DIES = [sys.executable, "-c", "import sys; print('no java here'); sys.exit(3)"]


def _gone(pid: int, started: float) -> bool:
    return not ss._same_process(pid, started)


def _wait(cond, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


@pytest.fixture()
def folder(tmp_path: Path):
    d = tmp_path / "spark" / "server"
    yield d
    ss.stop_server(d, timeout=10)  # whatever a failed test left running


def _client(folder: Path, master: str, hold: float = 0.0) -> subprocess.Popen:
    """Another process asking for the server (as a gunicorn worker or a background job would)."""
    code = textwrap.dedent(f"""
        import json, sys, time
        from analytics.engine import spark_server as ss
        try:
            info, lease = ss.ensure_server(ss.Path({str(folder)!r}), {master!r}, idle=1.0, command={FAKE!r})
        except ss.SparkServerError as exc:
            print(json.dumps({{"error": str(exc)}}), flush=True); sys.exit(0)
        print(json.dumps({{"url": info.url, "jvm": info.jvm_pid}}), flush=True)
        time.sleep({hold})
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_one_server_for_every_process_then_stopped_when_unused(folder):
    import json

    lease = ss.Lease(folder)  # this process uses it too: it stays up while the lease is held
    procs = [_client(folder, "local[2]", hold=0.5) for _ in range(3)]  # three processes at once
    outs = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    assert len({o["url"] for o in outs}) == 1 and len({o["jvm"] for o in outs}) == 1, outs  # one started
    info = ss.current(folder)
    assert info is not None and info.url == outs[0]["url"] and info.master == "local[2]"
    assert info.url.startswith("sc://127.0.0.1:") and info.port == int(info.url.rsplit(":", 1)[1])
    time.sleep(2.5)  # well past the 1 s idle time, but leased
    assert ss.current(folder) == info
    lease.close()
    # nobody uses it any more: stopped after ~1 s idle, state file gone, both processes gone
    assert _wait(lambda: _gone(info.jvm_pid, info.jvm_started) and _gone(info.supervisor_pid,
                                                                        info.supervisor_started))
    assert ss.current(folder) is None and not (folder / ss.STATE).exists()


def test_reused_in_process_and_other_master_refused(folder):
    info, lease = ss.ensure_server(folder, "local[2]", idle=60, command=FAKE)
    try:
        again, lease2 = ss.ensure_server(folder, "local[2]", idle=60, command=FAKE)
        lease2.close()
        assert again == info
        with pytest.raises(ss.SparkServerError, match="drives 'local\\[2\\]', not 'spark://10.0.0.9:7077'"):
            ss.ensure_server(folder, "spark://10.0.0.9:7077", idle=60, command=FAKE)
        with pytest.raises(ss.SparkServerError, match="Spark Connect URL"):
            ss.ensure_server(folder, "sc://127.0.0.1:15002")
    finally:
        lease.close()
    assert ss.stop_server(folder) is True
    assert _gone(info.jvm_pid, info.jvm_started) and ss.current(folder) is None
    assert ss.stop_server(folder) is False


def test_killed_supervisor_takes_the_server_with_it_and_a_new_one_starts(folder):
    info, lease = ss.ensure_server(folder, "local[1]", idle=60, command=FAKE)
    with lease:
        os.kill(info.supervisor_pid, signal.SIGKILL)
        assert _wait(lambda: _gone(info.jvm_pid, info.jvm_started))  # PR_SET_PDEATHSIG: no orphan JVM
        assert ss.current(folder) is None  # the state file is stale, not trusted
        fresh, lease2 = ss.ensure_server(folder, "local[1]", idle=60, command=FAKE)
        lease2.close()
    assert fresh.jvm_pid != info.jvm_pid and ss.current(folder) == fresh


def test_a_server_that_cannot_start_is_a_clear_error(folder):
    with pytest.raises(ss.SparkServerError, match="did not start(.|\n)*no java here"):
        ss.ensure_server(folder, "local[1]", command=DIES, timeout=30)
    assert ss.current(folder) is None


def test_cli_status_and_stop(folder):
    cache = folder.parent.parent
    assert ss.server_dir(cache) == folder
    assert ss.main(["status", "--cache-dir", str(cache)]) == 3
    info, lease = ss.ensure_server(folder, "local[1]", idle=0, command=FAKE)  # idle 0: never stops by itself
    lease.close()
    time.sleep(1.5)
    assert ss.current(folder) == info
    assert ss.main(["status", "--cache-dir", str(cache)]) == 0
    assert ss.main(["stop", "--cache-dir", str(cache)]) == 0
    assert _gone(info.jvm_pid, info.jvm_started) and ss.current(folder) is None


def test_server_command_binds_loopback():
    cmd = ss.server_command("spark://127.0.0.1:7077", 15123, {"spark.executor.memory": "1g"})
    assert cmd[0].endswith("bin/spark-submit") and Path(cmd[0]).exists()
    assert cmd[cmd.index("--class") + 1] == ss.SERVER_CLASS
    assert cmd[cmd.index("--master") + 1] == "spark://127.0.0.1:7077"
    confs = dict(c.split("=", 1) for c in cmd[1:] if "=" in c and c.startswith("spark."))
    assert confs["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert confs["spark.connect.grpc.binding.port"] == "15123"
    assert confs["spark.executor.memory"] == "1g" and confs["spark.sql.session.timeZone"] == "America/Lima"
