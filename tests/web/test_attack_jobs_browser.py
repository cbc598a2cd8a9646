"""Headless Chromium: a background job refused for lack of room shows the "busy, retry" notice in the page
(the job manager's side update reaches the shell's alert through Dash's renderer), with no console error."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import free_port
from web import jobslots

pytestmark = pytest.mark.browser


def test_a_refused_segments_run_shows_the_busy_notice(dash_duo, settings, app_factory, browser_errors, tmp_path):
    app = app_factory(settings.replace(cache_dir=tmp_path / "cache", max_jobs=2, job_queue=2, jobs_per_user=1))
    handle = app._background_manager.handle
    busy = subprocess.Popen(["sleep", "120"])  # this browser's one job is already running (its place is taken)
    try:
        token = jobslots.admit(handle, "address:127.0.0.1", app._background_manager.limits)
        assert isinstance(token, str)
        jobslots.confirm(handle, token, busy.pid)
        dash_duo.start_server(app, port=free_port())
        dash_duo.wait_for_page(url=f"{dash_duo.server_url}/segments", timeout=30)
        dash_duo.wait_for_contains_text("#shell-jobs-busy", "Ya tiene 1 cálculos", timeout=60)
        assert "vuelva a intentarlo" in dash_duo.find_element("#shell-jobs-busy").text
        assert [pid for pid, _ in jobslots.alive_jobs(handle)] == [busy.pid]  # no job process was started
        assert browser_errors(dash_duo) == []
    finally:
        busy.kill()
        busy.wait(10)
