"""Shared fixtures: a generated demo dataset, settings pointing at it, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.live", "tests.fixtures.logistics", "tests.fixtures.segments",
                  "tests.fixtures.sourcing", "tests.fixtures.spark", "tests.fixtures.web"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEMO_ORDERS = 60_000
DEMO_SEED = 7


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: headless-Chromium test (dash[testing])")
    config.addinivalue_line("markers", "spark: needs a local Spark session (pytest -m spark)")
    config.addinivalue_line("markers", "slow: slower integration test")


def pytest_setup_options():
    """Chromium options for dash[testing]'s webdriver: headless, no network side-traffic, fresh profile."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(path):
            options.binary_location = path
            break
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1400,1000",
                f"--user-data-dir={tempfile.mkdtemp(prefix='chasqui-chrome-')}"):
        options.add_argument(arg)
    return options


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated demo dataset (60,000 orders, seed 7). Read-only: copy it before writing."""
    from analytics.demo_orders import generate_dataset

    d = tmp_path_factory.mktemp("demo")
    generate_dataset(d, n_orders=DEMO_ORDERS, seed=DEMO_SEED)
    return d


@pytest.fixture()
def writable_demo_dir(demo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the demo dataset that a test may change."""
    dst = tmp_path / "data"
    shutil.copytree(demo_dir, dst, ignore=shutil.ignore_patterns(".cache"))
    return dst


@pytest.fixture(scope="session")
def settings(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from web.settings import Settings

    return Settings(data_dir=demo_dir, live=False, demo_feed=False,
                    cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture()
def rt(settings):
    """The callbacks runtime configured on the demo dataset (for calling callbacks directly)."""
    from web.runtime import configure

    return configure(settings)


@pytest.fixture()
def app_factory():
    """Build a Dash app for given settings (live listener off unless asked)."""
    import app as appmod

    def make(settings, **kw):
        return appmod.create_app(settings, **kw)

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def browser_errors():
    """Console errors from a dash_duo session, ignoring none: returns a callable."""

    def errors(dash_duo) -> list:
        return [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]

    return errors
