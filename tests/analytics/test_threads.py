"""analytics.threads: scikit-learn's OpenMP pool capped inside the block, restored after, without a library
scan each time (threadpoolctl's cached controller)."""

from __future__ import annotations

import threadpoolctl

from analytics.threads import OMP_THREADS, openmp_threads


def _openmp_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]


def test_openmp_pool_capped_inside_and_restored_after():
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)

    before = _openmp_threads()
    assert before, "scikit-learn's OpenMP runtime is not loaded"
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        with openmp_threads():
            assert _openmp_threads() == [OMP_THREADS] * len(before)
        assert _openmp_threads() == [2] * len(before)
        with openmp_threads(2):
            assert _openmp_threads() == [2] * len(before)
    assert _openmp_threads() == before


def test_libraries_are_scanned_once_not_at_every_block(monkeypatch):
    import sklearn.cluster  # noqa: F401

    with openmp_threads():
        pass
    scans = []
    real = threadpoolctl.ThreadpoolController.__init__

    def counting(self):
        scans.append(1)
        real(self)

    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "__init__", counting)
    for _ in range(5):
        with openmp_threads(1):
            pass
    assert len(scans) <= 1  # threadpoolctl scans again after any import, which another thread might do
