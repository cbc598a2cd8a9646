"""Page timings a visitor waits for, first visit after a restart and second visit, and how the slowest callback
grows with the data: 20,000 against 1,000,000 orders (quick: 100,000), side by side in one run.

For each size: generate the demo data (seed 7, no trained models: the pages then show historical rates),
start ``gunicorn -c deploy/gunicorn.conf.py app:server`` (1 worker) with an empty result cache, and load every
page, one page at a time, as the Dash renderer does (``benchmarks.loadtest.load_page``: GET, page
router, every on-load callback in the renderer's order with the layout's initial values or the outputs of the
callbacks it waits for, background callbacks polled at their 1 s interval). "load" = router + on-load callbacks, i.e. what a visitor waits for after the HTML (the browser's
own drawing is not included). Three visits of every page: the first after a restart with nothing cached (the
pages visited before it have loaded the shared tables), the second (the same pages again), and the first after a
restart on a cache that ``python app.py warm`` filled beforehand (what ``python app.py serve`` does in the
background whenever the data version changes).

Growth: the callback that is slowest at the larger size, against the same callback at 20,000 orders, on the
first visit (cold: nothing cached yet) and on the second (warm). A background callback's time includes the
renderer's 1 s polling, so it is quantised to about a second.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.loadtest import PAGES, Site, free_port, load_page, start_gunicorn, stop_gunicorn, wait_ready

ROOT = Path(__file__).resolve().parent.parent
SMALL = 20_000
LARGE = 1_000_000
QUICK_LARGE = 100_000
FIRST_GOAL_S = 5.0
SECOND_GOAL_S = 3.0
GROWTH_GOAL = 3.0


def _client_calls(client: httpx.Client, base: str) -> tuple[Any, Any]:
    def get(path: str, name: str) -> None:
        r = client.get(base + path, timeout=120)
        if r.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {r.status_code}")

    def post(name: str, body: dict[str, Any], params: dict[str, str]) -> Any:
        r = client.post(base + "/_dash-update-component", json=body, params=params, timeout=600)
        if r.status_code == 204:
            return None
        if r.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {r.status_code} {r.text[:200]}")
        return r.json()

    return get, post


def _serve_and_visit(data_dir: Path, work: Path, cache: Path, visits: tuple[str, ...]
                     ) -> dict[str, dict[str, dict[str, float]]]:
    """Start a single-worker gunicorn on ``cache`` and load every page once per entry of ``visits``."""
    port, mport = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    prom = work / f"prom-{cache.name}"
    prom.mkdir(exist_ok=True)
    proc = start_gunicorn(data_dir, port, workers=1, log=work / f"gunicorn-{cache.name}.log",
                          env_extra={"CHASQUI_CACHE_DIR": str(cache), "PROMETHEUS_MULTIPROC_DIR": str(prom),
                                     "METRICS_PORT": str(mport), "METRICS_ADDR": "127.0.0.1"})
    try:
        wait_ready(base, proc)
        with httpx.Client() as client:
            site = Site(base, client)
            get, post = _client_calls(client, base)
            return {visit: {page: load_page(site, page, get, post) for page in PAGES} for visit in visits}
    finally:
        stop_gunicorn(proc)


def visit_all(data_dir: Path, work: Path) -> dict[str, Any]:
    """{"first", "second": {page: steps}} on a fresh server with an empty result cache; {"warmed": ...}: the first
    visit on a fresh server whose empty cache was filled by ``python app.py warm`` beforehand (``warm_s``)."""
    out: dict[str, Any] = _serve_and_visit(data_dir, work, work / f"cache-{data_dir.name}", ("first", "second"))
    cache = work / f"cache-{data_dir.name}-warmed"
    env = {**os.environ, "CHASQUI_CACHE_DIR": str(cache), "CHASQUI_LIVE": "0", "CHASQUI_DEMO_FEED": "0",
           "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "app.py"), "warm", "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out["warm_s"] = time.perf_counter() - t0
    out.update(_serve_and_visit(data_dir, work, cache, ("warmed",)))
    return out


def _callbacks(steps: dict[str, dict[str, float]]) -> dict[str, float]:
    """Every on-load callback of every page: "<page> <output id>" → seconds."""
    return {f"{page} {k[3:]}": v for page, s in steps.items() for k, v in s.items() if k.startswith("cb ")}


def growth_rows(small: dict[str, Any], large: dict[str, Any], n_large: int) -> list[dict[str, Any]]:
    rows = []
    for visit, label in (("first", "cold (first visit after a restart)"), ("second", "warm (second visit)")):
        big, little = _callbacks(large[visit]), _callbacks(small[visit])
        name = max(big, key=big.__getitem__)
        rows.append({"benchmark": f"slowest callback growth, {label}", "n": n_large,
                     "subject": f"{name} at {n_large:,} orders", "subject_s": big[name],
                     "baseline": f"same at {SMALL:,}", "baseline_s": little.get(name),
                     "ratio": big[name] / little[name] if little.get(name) else None,
                     "goal": f"≤ {GROWTH_GOAL:.0f}× (ratio = subject/baseline)"})
    return rows


def page_rows(result: dict[str, Any], n: int) -> list[dict[str, Any]]:
    rows = []
    for page in PAGES:
        cold, warmed, second = (result[v][page]["load"] for v in ("first", "warmed", "second"))
        rows.append({"benchmark": f"page {page}, first visit after a restart", "n": n,
                     "subject": "cache warmed (python app.py warm)", "subject_s": warmed,
                     "baseline": "nothing cached", "baseline_s": cold, "ratio": cold / max(warmed, 1e-9),
                     "goal": f"≤ {FIRST_GOAL_S:.0f} s"})
        rows.append({"benchmark": f"page {page}, second visit", "n": n, "subject": "second visit",
                     "subject_s": second, "baseline": "budget", "baseline_s": SECOND_GOAL_S,
                     "ratio": SECOND_GOAL_S / max(second, 1e-9), "goal": f"≤ {SECOND_GOAL_S:.0f} s (ratio > 1)"})
    rows.append({"benchmark": "warm-up (python app.py warm), every page's default view", "n": n,
                 "subject": "warm-up, process start included", "subject_s": result["warm_s"],
                 "baseline": "—", "baseline_s": None, "ratio": None, "goal": "in the background"})
    return rows


def print_callbacks(results: dict[int, dict[str, Any]]) -> None:
    """Per-callback seconds at every size, slowest first (stderr: the table on stdout stays one table)."""
    sizes = sorted(results)
    big = _callbacks(results[sizes[-1]]["first"])
    print("on-load callbacks, seconds, first visit (nothing cached) / second visit:", file=sys.stderr)
    print("  " + "  ".join(f"{n:>17,}" for n in sizes) + "  callback", file=sys.stderr)
    for name in sorted(big, key=big.__getitem__, reverse=True):
        cells = []
        for n in sizes:
            a, b = _callbacks(results[n]["first"]).get(name), _callbacks(results[n]["second"]).get(name)
            cells.append(f"{a or 0:>8.3f}/{b or 0:<8.3f}")
        print("  " + "  ".join(cells) + f"  {name}", file=sys.stderr)


def run(quick: bool = False) -> list[dict[str, Any]]:
    from analytics.demo_orders import generate_dataset

    large = QUICK_LARGE if quick else LARGE
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="chasqui-bench-pages-") as tmp:
        work = Path(tmp)
        for n in (SMALL, large):
            d = work / f"orders{n}"
            generate_dataset(d, n_orders=n, seed=7)
            results[n] = visit_all(d, work)
    print_callbacks(results)
    rows = []
    for n in (SMALL, large):
        rows += page_rows(results[n], n)
    return rows + growth_rows(results[SMALL], results[large], large)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.run import main

    sys.exit(main(quick="--quick" in sys.argv, only="pages"))
