"""Shared fixtures: a generated demo dataset, settings pointing at it, and headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.fixtures.live", "tests.fixtures.logistics", "tests.fixtures.segments",
                  "tests.fixtures.shelflife", "tests.fixtures.sourcing", "tests.fixtures.spark", "tests.fixtures.web"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEMO_ORDERS = 60_000
DEMO_SEED = 7


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: headless-Chromium test (dash[testing])")
    config.addinivalue_line("markers", "spark: needs Spark (the run's Spark Connect server; pytest -m spark)")
    config.addinivalue_line("markers", "backtest: every scenario preset replayed on three 300k-order datasets (pytest -m backtest)")
    config.addinivalue_line("markers", "cluster: a Spark test's variants on the deployments: the Spark Connect "
                                       "server and a standalone cluster, on loopback (pytest -m cluster)")
    config.addinivalue_line("markers", "slow: slower integration test")
    if config.getoption("numprocesses", default=None) and not hasattr(config, "workerinput"):
        os.environ[GROUPS_ENV] = tempfile.mkdtemp(prefix="chasqui-test-groups-")  # the workers inherit it


# Session fixtures that cost seconds to minutes (training, a JVM, a broker). Under pytest-xdist (`make test` runs
# `-n auto`) every worker builds its own copy of a session fixture it uses; the tests that need one of these (or
# carry an `xdist_group` mark) are scheduled on one worker, so each is built once per run, not once per worker.
# xdist's own `--dist loadgroup` cannot do that with pytest 9 (it renames items through an attribute pytest 9 no
# longer reads), so: each worker writes, at collection, which tests belong to which group into GROUPS_ENV's folder,
# and the controller's scheduler (xdist's LoadScopeScheduling, whose scope is that group, else the test itself)
# reads it before it hands out tests.
EXPENSIVE_FIXTURES = {"spark_connect": "spark", "spark_session": "spark", "spark_target": "spark",
                      "classic_spark_session": "spark", "trained_dir": "logistics-trained",
                      "trained": "sourcing-trained", "broker": "broker", "fitted_by_seed": "shelflife-fitted",
                      "forecast1": "demand", "seed_dirs": "demand"}
# every Spark test (the run's Spark Connect server, and the standalone cluster) on one worker; first match wins
GROUPS_ENV = "CHASQUI_TEST_GROUPS"


def _group(item: pytest.Item) -> str | None:
    marked = [m.args[0] if m.args else m.kwargs.get("name", "default") for m in item.iter_markers("xdist_group")]
    if marked:
        return str(marked[0])
    names = getattr(item, "fixturenames", ())
    return next((g for f, g in EXPENSIVE_FIXTURES.items() if f in names), None)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    folder, worker = os.environ.get(GROUPS_ENV), getattr(config, "workerinput", {}).get("workerid")
    if folder and worker:
        groups = {item.nodeid: g for item in items if (g := _group(item))}
        (Path(folder) / f"{worker}.json").write_text(json.dumps(groups), encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`-n N` (xdist's "load" mode): tests sharing an expensive fixture go to one worker, the rest as they come."""
    folder = os.environ.get(GROUPS_ENV)
    if config.getvalue("dist") != "load" or not folder:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # every worker has finished collecting when tests are first handed out
                self.groups = {}
                for f in sorted(Path(folder).glob("*.json")):
                    self.groups.update(json.loads(f.read_text(encoding="utf-8")))
            return self.groups.get(nodeid, nodeid)

    return SharedFixtureScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.get(GROUPS_ENV)
    if folder and not hasattr(config, "workerinput"):
        shutil.rmtree(folder, ignore_errors=True)


def pytest_setup_options():
    """Chromium options for dash[testing]'s webdriver: headless, no network side-traffic, fresh profile; and a
    visitor who asks for reduced motion, so spinners stand still while the tests wait on computations (the pages
    behave the same; the every-page check and tests/browser/test_motion.py browse with motion on)."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(path):
            options.binary_location = path
            break
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1400,1000", "--force-prefers-reduced-motion",
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
