"""Run every benchmarks/bench_*.py and print one table of side-by-side figures.

Each module exposes ``run(quick: bool) -> list[dict]`` with keys benchmark, subject, baseline,
subject_s, baseline_s, ratio (baseline_s / subject_s unless the module says otherwise), goal, n.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def best_of(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls (the least disturbed by a noisy, shared machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _modules(only: str | None) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    return [n for n in names if not only or only in n]


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def main(quick: bool = False, only: str | None = None) -> int:
    print(f"Chasqui benchmarks — {datetime.now():%Y-%m-%d %H:%M} — {platform.node()} — "
          f"{platform.machine()} — Python {platform.python_version()} — quick={quick}")
    rows: list[dict] = []
    failed = 0
    for name in _modules(only):
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"benchmarks.{name}")
            got = mod.run(quick=quick)
            for r in got:
                r.setdefault("module", name)
            rows.extend(got)
        except Exception:  # a failing benchmark is reported, the others still run
            failed += 1
            print(f"[{name}] FAILED\n{traceback.format_exc()}", file=sys.stderr)
        print(f"[{name}] {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    header = ("benchmark", "n", "subject", "time", "baseline", "time", "ratio", "goal")
    table = [header] + [
        (r["benchmark"], f"{r.get('n', ''):,}" if isinstance(r.get("n"), int) else str(r.get("n", "")),
         r["subject"], _fmt_s(r.get("subject_s")), r["baseline"], _fmt_s(r.get("baseline_s")),
         f"{r['ratio']:.2f}×" if r.get("ratio") is not None else "—", r.get("goal", ""))
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(quick="--quick" in sys.argv))
