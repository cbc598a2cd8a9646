"""deploy/stack.py: durations, process bookkeeping (stops only what it recorded) and the whole smoke run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy import stack
from tests.deploy.conftest import PROMETHEUS_MISSING, prometheus_installed

ROOT = Path(__file__).resolve().parents[2]


def test_durations():
    assert stack.duration_seconds("10s") == 10
    assert stack.duration_seconds("2m") == 120
    assert stack.duration_seconds("1h30m") == 5400
    assert stack.duration_seconds("500ms") == 0.5
    for bad in ("2 minutes", "", "10", "5x", "1h 30m"):
        with pytest.raises(stack.StackError, match="not a Prometheus duration"):
            stack.duration_seconds(bad)


def test_config_refuses_a_compose_target_it_cannot_map():
    compose = {"global": {"scrape_interval": "15s"}, "rule_files": ["/etc/prometheus/alerts.yml"],
               "scrape_configs": [{"job_name": "chasqui", "static_configs": [{"targets": ["chasqui:9150",
                                                                                           "worker2:9150"]}]}]}
    with pytest.raises(stack.StackError, match=r"worker2:9150"):
        stack.prometheus_config(compose, {"chasqui:9150": "127.0.0.1:1"}, stack.ALERTS)


def _state(tmp_path: Path) -> stack.StackState:
    d = tmp_path / "state"
    d.mkdir()
    return stack.StackState("test-" + os.urandom(4).hex(), str(d), str(tmp_path), "polars", time.time())


def _sleeper(seconds: int = 120) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"], start_new_session=True)


def test_stop_ends_the_recorded_session_and_nothing_else(tmp_path):
    """A service that forks a child: both stop; an unrelated process (own session, not recorded) lives on."""
    unrelated = _sleeper()
    st = _state(tmp_path)
    s = stack.Stack(st)
    try:
        svc = s.launch("svc", [sys.executable, "-c",
                               "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                               "'import time; time.sleep(120)']); time.sleep(120)"], dict(os.environ))
        deadline = time.monotonic() + 20
        while len(stack.session_members(svc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        members = stack.session_members(svc.pid)
        assert len(members) == 2 and svc.pid in members
        assert (Path(st.state_dir) / "pids" / "svc.pid").read_text().strip() == str(svc.pid)
        assert stack.StackState.load(Path(st.state_dir)).service("svc").pid == svc.pid
        done = s.stop()
        assert done == {"svc": "stopped 2 process(es)"}
        assert stack.session_members(svc.pid) == []
        assert not (Path(st.state_dir) / "pids" / "svc.pid").exists()
        assert unrelated.poll() is None
        assert stack.Stack(stack.StackState.load(Path(st.state_dir))).stop() == {"svc": "not running"}
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_recycled_pid_is_left_alone(tmp_path):
    """A record whose pid now belongs to another process (different start time) stops nothing."""
    other = _sleeper()
    try:
        real = stack.proc_stat(other.pid)
        assert real is not None and real.session == other.pid
        st = _state(tmp_path)
        st.services = [stack.Service("app", other.pid, real.start_ticks - 1, ["gunicorn"], "app.log")]
        st.save()
        assert stack.down(Path(st.state_dir)) == {"app": "not running"}
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_down_without_a_record_does_nothing(tmp_path):
    assert stack.down(tmp_path / "nothing") == {}


def test_up_refuses_while_a_recorded_service_runs(tmp_path):
    st = _state(tmp_path)
    s = stack.Stack(st)
    s.launch("broker", [sys.executable, "-c", "import time; time.sleep(120)"], dict(os.environ))
    try:
        opts = stack.Options(state_dir=Path(st.state_dir), data_dir=tmp_path / "data", orders=10)
        with pytest.raises(stack.StackError, match=r"already running .*\(broker\)"):
            stack.up(opts)
        assert not (tmp_path / "data").exists()  # refused before preparing anything
    finally:
        s.stop()


@pytest.mark.stack
@pytest.mark.skipif(not prometheus_installed(), reason=PROMETHEUS_MISSING)
def test_stack_smoke(tmp_path):
    """`make stack-smoke` on a copy of alerts.yml whose for: durations are 10 s (the file's own: 2m and 10m,
    tested in virtual time by test_alert_rules): every target up, feed flowing, both alerts fire, all stopped.
    Without the master's warm-up of every page (``CHASQUI_WARM=0``; ~50 CPU-s beside the smoke's own work): none
    of the smoke's checks reads a page (the master starting the watcher, and the watcher: tests/web/test_warmup.py)."""
    state_dir = tmp_path / "stack"
    cmd = [sys.executable, "-m", "deploy.stack", "smoke", "--state-dir", str(state_dir),
           "--data-dir", str(ROOT / "data" / "stack"), "--orders", "3000", "--for", "10s"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CHASQUI_WARM": "0"})
    try:
        out, err = proc.communicate(timeout=840)
    finally:
        if proc.poll() is None:  # timed out or interrupted: let the smoke stop its stack, then make sure
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        stack.down(state_dir)
    state = stack.StackState.load(state_dir)
    assert state is not None, err[-3000:]
    left = [s.name for s in state.services if stack.Stack(state).members(s)]
    assert left == []
    print(out)
    assert proc.returncode == 0, err[-3000:]
    assert out.strip().splitlines()[-1].startswith("stack-smoke ok in ")
    res = json.loads((state_dir / "smoke.json").read_text())
    assert [s.name for s in state.services] == ["broker", "app", "feed", "prometheus"]
    assert {t["job"] for t in res["targets"]} == {"chasqui", "prometheus"}
    assert all(t["health"] == "up" for t in res["targets"])
    assert all(t["instance"].startswith("127.0.0.1:") for t in res["targets"])
    assert res["applied_before"] > 0 and res["dlq_inactive_before"] is True
    assert res["malformed_sent"] > 0 and res["dead_lettered"] == res["malformed_sent"]
    assert res["for_in_file"] == stack.rule_for(stack.ALERTS)
    assert set(res["for_used"].values()) == {"10s"}
