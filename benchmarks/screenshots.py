"""Screenshots of every page, light and dark, in Spanish, from the demo data (``make screenshots``).

    python -m benchmarks.screenshots [--data-dir data/cache/screenshots] [--orders 60000] [--out docs/screenshots]
                                     [--pages overview,logistics] [--themes light,dark] [--measure]

Builds the demo data in ``--data-dir`` when it is not there (generate, then train every model), serves the app
from this process on 127.0.0.1, drives Debian's headless Chromium (``--headless=new --no-sandbox --disable-gpu
--disable-background-networking``, a fresh profile) through each page and writes
``<out>/<page>-<light|dark>.png``. Every request the browser makes is read from Chrome's performance log: one
that leaves the app's host fails the run. ``--measure`` also times the Logistics map drawn as ``choropleth``
(SVG) and as ``choroplethmap`` (MapLibre, WebGL) in the same browser and prints the figures' JSON sizes.

A page is listed in :data:`PAGES` (name, path with its query string, a selector that appears when it has drawn);
a navbar page missing from it is shot from its plain path once it draws a chart or a table.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--lang=es-PE")
LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "chrome-extension", "devtools")


@dataclass(frozen=True)
class Page:
    name: str  # the file name's stem: <name>-<theme>.png
    path: str  # path and query string (the demo state the screenshot shows)
    ready: str  # CSS selector present once the page has drawn its main figure
    height: int = 1700  # the most of the page kept (pixels, CSS): keeps the PNG under ~300 KB
    start: str | None = None  # begin at this element's card instead of the top of the page


PAGES: tuple[Page, ...] = (
    Page("overview", "/", "#overview-map .choropleth", 1700),
    Page("logistics", "/logistics?region=PE-PUN", "#logistics-map .choropleth", 1680),
    Page("segments", "/segments", "#segments-pca .scatterlayer .point", 1500),
    Page("scenarios", "/scenarios?blockade_regions=PE-PUN,PE-CUS&blockade_days=20&fuel_pct=10",
         "#scenarios-tornado-fig .barlayer .point", 1750),
    Page("traceability", "/traceability?lot=AR-LAL-24001", "#trace-map .choropleth", 1500),
    Page("sourcing", "/sourcing", "#sourcing-map .choropleth", 1420, start="#sourcing-breakdown"),
    Page("data", "/data", "#data-summary-table", 1500),
)


def all_pages() -> tuple[Page, ...]:
    """:data:`PAGES`, then any page of the navbar that is not there yet (shot once it draws a chart or a table)."""
    from components.layout import NAV_ITEMS

    known = {p.path.split("?")[0] for p in PAGES}
    extra = tuple(Page(path.strip("/").replace("/", "-") or "home", path,
                       "#_pages_content .js-plotly-plot .main-svg, #_pages_content table")
                  for path, _ in NAV_ITEMS if path not in known)
    return PAGES + extra


# ---- data and server ------------------------------------------------------------------------

def prepare_data(data_dir: Path, orders: int, seed: int = 7, log: Callable[[str], None] = print) -> None:
    """The demo dataset with every model trained (what the pages show), built only when missing."""
    from analytics import storage
    from analytics.datadir import DataDir

    if not storage.has_table(data_dir, "orders"):
        from analytics.demo_orders import generate_dataset

        log(f"generating {orders:,} demo orders in {data_dir}")
        generate_dataset(data_dir, n_orders=orders, seed=seed)
    if not DataDir(data_dir).model_card.exists():
        from analytics.training import train_all

        log("training the models (a few minutes)")
        train_all(data_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The app on 127.0.0.1 in a thread of this process (stopped on exit); :meth:`of` serves another WSGI app."""

    def __init__(self, data_dir: Path, cache_dir: Path) -> None:
        import app as appmod
        from web.settings import Settings

        dash_app = appmod.create_app(Settings(data_dir=data_dir, live=False, demo_feed=False, cache_dir=cache_dir),
                                     start_live=False)
        self._bind(dash_app.server)

    @classmethod
    def of(cls, wsgi_app: Any) -> Server:
        """Serve ``wsgi_app`` (a small test app, say) the same way."""
        server = cls.__new__(cls)
        server._bind(wsgi_app)
        return server

    def _bind(self, wsgi_app: Any) -> None:
        from werkzeug.serving import make_server

        self.port = free_port()
        self.httpd = make_server("127.0.0.1", self.port, wsgi_app, threaded=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.thread.join(timeout=10)


# ---- browser --------------------------------------------------------------------------------

def chromium(width: int, height: int, profile: Path, *extra_flags: str) -> Any:
    """Headless Chromium (Debian's binary and driver) with the performance log on (every network request);
    ``extra_flags`` after :data:`CHROME_FLAGS`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(path).exists():
            options.binary_location = path
            break
    for flag in (*CHROME_FLAGS, *extra_flags, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def requested_urls(driver: Any) -> list[str]:
    """URLs the browser asked for since the last call (Chrome's performance log, Network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        try:
            msg = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
        elif msg.get("method") == "Network.webSocketCreated":
            urls.append(msg["params"]["url"])
    return urls


def foreign(urls: list[str], base_url: str) -> list[str]:
    """The URLs that leave the app's host (scheme, host and port must all match; data:, blob: never leave)."""
    home = urlsplit(base_url)
    out = []
    for u in urls:
        p = urlsplit(u)
        if p.scheme in LOCAL_SCHEMES:
            continue
        if (p.scheme, p.hostname, p.port) != (home.scheme, home.hostname, home.port):
            out.append(u)
    return out


def settle(driver: Any, selector: str, timeout: float = 120.0) -> None:
    """Wait for ``selector``, then until no Dash callback is pending and the page has been still for a moment."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, selector)))
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        busy = driver.execute_script(
            "return document.querySelectorAll('[data-dash-is-loading=\"true\"], .dash-spinner, "
            "._dash-loading-callback').length")
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.5:
            return
        time.sleep(0.25)


# what a link of the navbar does (dash-bootstrap-components' and dcc's links): the page changes, nothing reloads
NAVIGATE = ("window.history.pushState({}, '', arguments[0]);"
            "window.dispatchEvent(new CustomEvent('_dashprivate_pushstate')); window.scrollTo(0, 0);")


def navigate(driver: Any, path: str, ready: str, timeout: float = 120.0) -> None:
    """Go to ``path`` inside the loaded app as a click on a link would (no page load), then :func:`settle` on
    ``ready``; elements that already matched ``ready`` on the page left must be gone first."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    before = driver.find_elements(By.CSS_SELECTOR, ready)
    driver.execute_script("window.chasquiSamePage = true;" + NAVIGATE, path)
    for el in before:
        WebDriverWait(driver, timeout).until(ec.staleness_of(el))
    settle(driver, ready, timeout)
    if not driver.execute_script("return window.chasquiSamePage === true"):
        raise RuntimeError(f"going to {path} reloaded the page instead of changing it in place")


def set_theme(driver: Any, base_url: str, theme: str) -> None:
    """Store the theme as the switch does (the shell's store in localStorage), before a page loads."""
    driver.get(base_url + "/healthz")
    driver.execute_script("window.localStorage.setItem('shell-theme-store', JSON.stringify(arguments[0]));"
                          "window.localStorage.setItem('shell-theme-store-timestamp', String(Date.now()));",
                          theme)


def capture(driver: Any, width: int, max_height: int, start: str | None = None) -> bytes:
    """PNG of the page from the top (or from the card holding ``start``), as tall as its content (at most
    ``max_height`` CSS pixels)."""
    total = int(driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)"))
    top = 0
    if start:
        top = int(driver.execute_script(
            "const el = document.querySelector(arguments[0]); const card = el.closest('.card') || el;"
            "return Math.max(0, Math.floor(card.getBoundingClientRect().top + window.scrollY - 12));", start))
    height = max(600, min(total - top, max_height))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": top + height, "deviceScaleFactor": 1, "mobile": False})
    time.sleep(0.8)  # plotly redraws on resize
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": False, "fromSurface": True,
        "clip": {"x": 0, "y": top, "width": width, "height": height, "scale": 1}})
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return base64.b64decode(shot["data"])


def shoot(base_url: str, out: Path, pages: tuple[Page, ...], themes: tuple[str, ...], width: int,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every page in every theme to ``out``; returns what was written and any request that left the host."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    leaks: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="chasqui-shots-") as profile:
        driver = chromium(width, 1000, Path(profile))
        try:
            for theme in themes:
                set_theme(driver, base_url, theme)
                for page in pages:
                    requested_urls(driver)  # drop what came before
                    driver.get(base_url + page.path)
                    settle(driver, page.ready)
                    png = capture(driver, width, page.height, page.start)
                    name = f"{page.name}-{theme}.png"
                    (out / name).write_bytes(png)
                    written[name] = len(png)
                    bad = foreign(requested_urls(driver), base_url)
                    if bad:
                        leaks[name] = bad
                    log(f"{name}: {len(png) / 1024:.0f} KB" + (f"  LEFT THE HOST: {bad}" if bad else ""))
        finally:
            driver.quit()
    return {"written": written, "foreign_requests": leaks}


# ---- measuring the two map types ------------------------------------------------------------

MEASURE_JS = """
const [fig, config, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const div = document.createElement('div');
div.style.width = '700px'; div.style.height = '600px';
document.body.appendChild(div);
const t0 = performance.now();
let settled = false;
const finish = (r) => { if (!settled) { settled = true; div.remove(); done(r); } };
setTimeout(() => finish({ok: false, error: 'timeout'}), 20000);
window.Plotly.newPlot(div, fig.data, fig.layout, config)
  .then(() => finish({ok: div.querySelectorAll('path, canvas').length > 0, ms: performance.now() - t0,
                      svg_paths: div.querySelectorAll('.choroplethlocation').length,
                      canvases: div.querySelectorAll('canvas').length}))
  .catch((e) => finish({ok: false, ms: performance.now() - t0, error: String(e)}));
"""


def map_figures(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The Logistics map as the page builds it (``choropleth``) and the same data as ``choroplethmap``."""
    from analytics import geo
    from analytics.logistics import queries as lq
    from analytics.queries import OrderFilter
    from callbacks.logistics import DC_POINTS, REGION_NAMES
    from components import logistics as view
    from web.runtime import runtime

    rt = runtime()
    last = lq.last_date(rt.engine)
    flt = lq.default_filter(last) if last else OrderFilter()
    regions = lq.logistics_view(rt.engine, rt.settings.models_dir, flt).regions.to_dicts()
    svg = view.map_figure(regions, geo.region_outlines(), REGION_NAMES, "risk", "es", "light", DC_POINTS,
                          geo.CORRIDOR_ROUTES)
    gl: dict[str, Any] = json.loads(json.dumps(svg))
    for trace in gl["data"]:
        trace["type"] = {"choropleth": "choroplethmap", "scattergeo": "scattermap"}[trace["type"]]
        if trace["type"] == "scattermap" and trace.get("mode") == "text":
            trace["mode"] = "markers"  # MapLibre text needs glyphs from a font server: left out
            trace.pop("textfont", None)
        if trace["type"] == "scattermap":
            trace.get("marker", {}).pop("line", None)
            trace.get("marker", {}).pop("symbol", None)
            trace.pop("textfont", None)
            trace["mode"] = trace.get("mode", "markers").replace("+text", "")
        if trace["type"] == "choroplethmap":
            trace["marker"] = {"line": trace["marker"]["line"]}
    gl["layout"].pop("geo")
    gl["layout"]["map"] = {"style": "white-bg", "center": {"lat": -9.2, "lon": -75.0}, "zoom": 4}
    return {"choropleth": svg, "choroplethmap": gl}


def measure(base_url: str, data_dir: Path, width: int, repeat: int = 5) -> dict[str, Any]:
    """JSON size and draw time (best of ``repeat``) of the Logistics map as each trace type."""
    from components import maps

    figs = map_figures(data_dir)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="chasqui-measure-") as profile:
        driver = chromium(width, 1000, Path(profile))
        try:
            driver.set_script_timeout(60)
            driver.get(base_url + "/logistics")
            settle(driver, "#logistics-map .choropleth")
            config = {**maps.graph_config(), "topojsonURL": "/assets/" + maps.GEO_ASSETS}
            for kind, fig in figs.items():
                runs = [driver.execute_async_script(MEASURE_JS, fig, config) for _ in range(repeat)]
                ok = [r for r in runs if r.get("ok")]
                out[kind] = {"json_kb": round(len(json.dumps(fig, separators=(",", ":"))) / 1024, 1),
                             "drawn": bool(ok), "best_ms": round(min(r["ms"] for r in ok), 1) if ok else None,
                             "error": None if ok else runs[-1].get("error"),
                             "svg_paths": ok[-1].get("svg_paths") if ok else None}
            out["foreign_requests"] = foreign(requested_urls(driver), base_url)
        finally:
            driver.quit()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "cache" / "screenshots",
                        help="demo data for the pictures (built there when missing; git-ignored)")
    parser.add_argument("--orders", type=int, default=60_000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    pages = all_pages()
    parser.add_argument("--pages", default=",".join(p.name for p in pages))
    parser.add_argument("--themes", default="light,dark")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--measure", action="store_true", help="also time choropleth against choroplethmap")
    args = parser.parse_args(argv)
    wanted = [n.strip() for n in args.pages.split(",") if n.strip()]
    unknown = sorted(set(wanted) - {p.name for p in pages})
    if unknown:
        parser.error(f"unknown pages: {', '.join(unknown)} (known: {', '.join(p.name for p in pages)})")
    themes = tuple(x.strip() for x in args.themes.split(",") if x.strip())
    if set(themes) - {"light", "dark"}:
        parser.error("themes are light and dark")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    prepare_data(args.data_dir, args.orders)
    with tempfile.TemporaryDirectory(prefix="chasqui-shots-cache-") as cache, Server(args.data_dir, Path(cache)) as srv:
        result = shoot(srv.url, args.out, tuple(p for p in pages if p.name in wanted), themes, args.width)
        if args.measure:
            result["maps"] = measure(srv.url, args.data_dir, args.width)
    print(json.dumps(result, indent=1))
    leaked = result["foreign_requests"] or (result.get("maps") or {}).get("foreign_requests")
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
