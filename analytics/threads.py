"""OpenMP threads for scikit-learn's fits and predictions.

scikit-learn's OpenMP threads spin-wait, and on a machine shared with other work (gunicorn workers, job
processes, a test suite) two threads made small fits and predictions 10-20x slower, so the models run on one
(``OMP_THREADS``); large batches pass more. threadpoolctl's ``threadpool_limits`` scans every loaded library
each time it is entered (4.4 ms on the 2-core development VM, a tenth of the Logistics filter callback at 1M
orders); its cached controller scans again only when a module was imported since (0.24 ms)."""

from __future__ import annotations

from typing import Any

OMP_THREADS = 1


def openmp_threads(limit: int | None = None) -> Any:
    """Context manager: at most ``limit`` (default ``OMP_THREADS``) OpenMP threads inside, as before on exit."""
    from threadpoolctl import get_cached_controller

    return get_cached_controller().limit(limits=limit or OMP_THREADS, user_api="openmp")


__all__ = ["OMP_THREADS", "openmp_threads"]
