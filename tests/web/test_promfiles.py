"""Prometheus multiprocess files of exited processes (background jobs) are folded into archives:
the totals a scrape reports are unchanged, the folder stops growing, live processes are left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from web import promfiles

WRITER = textwrap.dedent("""
    import sys
    from prometheus_client import Counter, Gauge, Histogram
    n = int(sys.argv[1])
    Counter("t_jobs_total", "jobs", ["kind"]).labels(kind="segments").inc(n)
    Histogram("t_seconds", "time", buckets=(1, 5)).observe(n)
    Gauge("t_rows", "rows", multiprocess_mode="max").set(100 * n)
    Gauge("t_busy", "busy", multiprocess_mode="livesum").set(1)
    if len(sys.argv) > 2:
        sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.readline()  # stay alive until told
""")


def _writer(mp: Path, n: int, stay: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp)}
    args = [sys.executable, "-c", WRITER, str(n)] + (["stay"] if stay else [])
    return subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _scrape(mp: Path) -> dict[tuple[str, tuple], float]:
    from prometheus_client import CollectorRegistry, multiprocess

    reg = CollectorRegistry()
    multiprocess.MultiProcessCollector(reg, path=str(mp))
    out = {}
    for fam in reg.collect():
        for s in fam.samples:
            out[(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid")))] = s.value
    return out


def test_exited_processes_are_folded_without_changing_totals(tmp_path: Path):
    mp = tmp_path / "prom"
    mp.mkdir()
    for n in (1, 2, 3):
        assert _writer(mp, n).wait(30) == 0
    live = _writer(mp, 4, stay=True)
    try:
        assert live.stdout.readline().strip() == "ready"
        before = _scrape(mp)
        assert before[("t_jobs_total", (("kind", "segments"),))] == 10
        assert len(list(mp.glob("*.db"))) == 4 * 4  # four kinds of file per process
        with promfiles.locked(mp):
            folded = promfiles.compact(mp)
        assert folded == 3 * 4  # three exited processes: counter, histogram, max gauge folded; live gauge dropped
        names = sorted(p.name for p in mp.glob("*.db"))
        assert names == sorted(["counter_archive.db", "histogram_archive.db", "gauge_max_archive.db",
                                f"counter_{live.pid}.db", f"histogram_{live.pid}.db",
                                f"gauge_max_{live.pid}.db", f"gauge_livesum_{live.pid}.db"])
        after = _scrape(mp)
        assert after[("t_jobs_total", (("kind", "segments"),))] == 10
        assert after[("t_seconds_count", ())] == 4 and after[("t_seconds_sum", ())] == 10
        assert after[("t_seconds_bucket", (("le", "1.0"),))] == 1
        assert after[("t_seconds_bucket", (("le", "5.0"),))] == 4
        assert after[("t_rows", ())] == 400
        assert after[("t_busy", ())] == 1  # only the live process is busy now
        assert {k: v for k, v in before.items() if k[0] != "t_busy"} == \
               {k: v for k, v in after.items() if k[0] != "t_busy"}
    finally:
        live.stdin.write("\n")
        live.stdin.flush()
        live.wait(30)
    assert _writer(mp, 5).wait(30) == 0
    with promfiles.locked(mp):
        assert promfiles.compact(mp) == 4 + 4  # the one that stayed, and the new one
    final = _scrape(mp)
    assert sorted(p.name for p in mp.glob("*.db")) == ["counter_archive.db", "gauge_max_archive.db",
                                                        "histogram_archive.db"]
    assert final[("t_jobs_total", (("kind", "segments"),))] == 15
    assert final[("t_seconds_count", ())] == 5 and final[("t_rows", ())] == 500
    with promfiles.locked(mp):
        assert promfiles.compact(mp) == 0  # nothing left to fold: idempotent
    assert _scrape(mp) == final


def test_a_file_still_being_created_does_not_break_a_scrape(tmp_path: Path):
    """prometheus_client creates a process's file empty and sizes it a moment later; a scrape in between
    made /metrics answer 500 (seen in the load smoke test). Such a file is skipped; a dead one removed."""
    import struct

    import pytest
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    mp = tmp_path / "prom"
    mp.mkdir()
    assert _writer(mp, 3).wait(30) == 0
    (mp / f"counter_{os.getpid()}.db").write_bytes(b"")  # a live process (this one) mid-creation
    with pytest.raises(struct.error):
        MultiProcessCollector.merge([str(p) for p in mp.glob("*.db")])  # the library alone fails here
    reg = CollectorRegistry()
    reg.register(promfiles.FolderCollector(mp))
    text = generate_latest(reg).decode()
    assert 't_jobs_total{kind="segments"} 3.0' in text
    assert (mp / f"counter_{os.getpid()}.db").exists()  # alive: left for its process to fill
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    (mp / f"histogram_{dead.pid}.db").write_bytes(b"")  # died before writing anything
    with promfiles.locked(mp):
        promfiles.compact(mp)
    assert not (mp / f"histogram_{dead.pid}.db").exists()
    assert 't_jobs_total{kind="segments"} 3.0' in generate_latest(reg).decode()


def test_a_compaction_cut_short_never_counts_twice(tmp_path: Path, monkeypatch):
    """The scraping process can die anywhere in a compaction; the next one must end with the same totals."""
    import pytest

    def dead_writers(mp: Path, counts: tuple[int, ...]) -> None:
        for n in counts:
            assert _writer(mp, n).wait(30) == 0

    real_replace, real_unlink = os.replace, Path.unlink

    class Crash(Exception):
        pass

    # 1. dies after the new archive is in place, before the folded files are deleted
    mp = tmp_path / "a"
    mp.mkdir()
    dead_writers(mp, (2, 3))

    def unlink_then_die(self, missing_ok=False):
        if self.name.endswith(".folding"):
            raise Crash
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink_then_die)
    with pytest.raises(Crash), promfiles.locked(mp):
        promfiles.compact(mp)
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert list(mp.glob("*.folding"))  # left behind, already inside the archive
    with promfiles.locked(mp):
        promfiles.compact(mp)
    assert _scrape(mp)[("t_jobs_total", (("kind", "segments"),))] == 5  # not 10
    assert not list(mp.glob("*.folding")) and not list(mp.glob(".*journal*"))

    # 2. dies before the archive is replaced
    mp = tmp_path / "b"
    mp.mkdir()
    dead_writers(mp, (4,))
    with promfiles.locked(mp):
        promfiles.compact(mp)  # an archive exists already (4)
    dead_writers(mp, (1, 6))

    def replace_then_die(src, dst):
        if str(dst).endswith("_archive.db"):
            raise Crash
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(Crash), promfiles.locked(mp):
        promfiles.compact(mp)
    monkeypatch.setattr(os, "replace", real_replace)
    with promfiles.locked(mp):
        promfiles.compact(mp)
    final = _scrape(mp)
    assert final[("t_jobs_total", (("kind", "segments"),))] == 11  # 4 + 1 + 6, each once
    assert final[("t_seconds_count", ())] == 3 and final[("t_rows", ())] == 600
    assert sorted(p.name for p in mp.iterdir() if not p.name.startswith(".")) == [
        "counter_archive.db", "gauge_max_archive.db", "histogram_archive.db"]
