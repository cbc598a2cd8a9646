"""Deployment tests: promtool checks of the Prometheus files and the natively started stack."""

from __future__ import annotations

import shutil

import pytest

PROMETHEUS_MISSING = ("Debian's prometheus (prometheus + promtool) is not installed: `make prometheus-deps` "
                      "(apt-get install prometheus)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stack: starts the whole stack on loopback (broker, gunicorn, feed, Prometheus)")


def prometheus_installed() -> bool:
    return shutil.which("prometheus") is not None and shutil.which("promtool") is not None
