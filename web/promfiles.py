"""Prometheus multiprocess files: fold the files of exited processes into one archive per kind.

In multiprocess mode every process that touches a metric writes ``<kind>_<pid>.db`` to
PROMETHEUS_MULTIPROC_DIR, and a scrape reads them all. Gunicorn workers are few, but each background
callback runs in its own short-lived process: without this, their files pile up for as long as the
server runs and every scrape reads more of them. ``compact`` folds the files of processes that have
exited into ``<kind>_archive.db`` (counters and histograms summed, ``max``/``min`` gauges kept at their
extreme, ``sum`` gauges summed, ``mostrecent`` kept by timestamp), drops exited processes' ``live*``
gauges (as ``mark_process_dead`` does) and deletes the folded files, so totals never go backwards.
Compaction and reading hold the same file lock (``locked``), so a scrape never sees a file both folded
and still present. Stdlib + prometheus_client only: the gunicorn master imports this.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.mmap_dict import MmapedDict

ARCHIVE = "archive"
LOCK_FILE = ".compact.lock"
FOLDED = ("counter", "histogram", "gauge_max", "gauge_min", "gauge_sum", "gauge_mostrecent")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextlib.contextmanager
def locked(mp_dir: str | Path) -> Iterator[None]:
    """Serialise compaction and scrapes across processes (an advisory lock file in the folder)."""
    with open(Path(mp_dir) / LOCK_FILE, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _combine(kind: str, old: tuple[float, float] | None, new: tuple[float, float]) -> tuple[float, float]:
    if old is None:
        return new
    if kind == "gauge_max":
        return max(old, new, key=lambda v: v[0])
    if kind == "gauge_min":
        return min(old, new, key=lambda v: v[0])
    if kind == "gauge_mostrecent":
        return max(old, new, key=lambda v: v[1])
    return old[0] + new[0], max(old[1], new[1])  # counter, histogram, gauge_sum


def _sized(f: Path) -> bool:
    """False for a file its process has created but not yet sized (prometheus_client creates it empty,
    then grows it): reading it then fails with ``struct.error``. Files never shrink back."""
    try:
        return f.stat().st_size >= 8
    except FileNotFoundError:
        return False


def collect(mp_dir: str | Path) -> list[Any]:
    """Every metric summed over the folder's files (call under ``locked``), as prometheus_client's
    ``MultiProcessCollector`` does, but skipping a file that a process starting right now has not sized yet."""
    from prometheus_client.multiprocess import MultiProcessCollector

    files = [str(f) for f in sorted(Path(mp_dir).glob("*.db")) if _sized(f)]
    return list(MultiProcessCollector.merge(files, accumulate=True))


class FolderCollector:
    """A registry collector over a multiprocess folder: exited processes folded first, then ``collect``."""

    def __init__(self, mp_dir: str | Path) -> None:
        self.mp_dir = Path(mp_dir)

    def collect(self) -> list[Any]:
        with locked(self.mp_dir):
            compact(self.mp_dir)
            return collect(self.mp_dir)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fold(root: Path, kind: str, sources: list[Path]) -> int:
    """Fold ``sources`` (already renamed ``*.folding``, so no scrape reads them twice) into the archive.

    Crash-safe: a journal names the sources and the new archive's digest before the archive is
    replaced, so ``_recover`` can tell a fold that completed (delete the leftovers) from one that did
    not (fold them again) — a dead scraper never makes a total go up twice."""
    archive = root / f"{kind}_{ARCHIVE}.db"
    values: dict[str, tuple[float, float]] = {}
    for src in ([archive] if archive.exists() else []) + sources:
        for key, value, ts, _ in MmapedDict.read_all_values_from_file(str(src)):
            values[key] = _combine(kind, values.get(key), (value, ts))
    tmp = root / f".{kind}_{ARCHIVE}.tmp"  # not *.db: a reader never globs a half-written file
    tmp.unlink(missing_ok=True)
    out = MmapedDict(str(tmp))
    try:
        for key, (value, ts) in values.items():
            out.write_value(key, value, ts)
    finally:
        out.close()
    journal, journal_tmp = root / f".{kind}_{ARCHIVE}.journal", root / f".{kind}_{ARCHIVE}.journal.tmp"
    journal_tmp.write_text(json.dumps({"archive_sha256": _digest(tmp), "sources": [p.name for p in sources]}))
    os.replace(journal_tmp, journal)
    os.replace(tmp, archive)
    for src in sources:
        src.unlink(missing_ok=True)
    journal.unlink(missing_ok=True)
    return len(sources)


def _recover(root: Path) -> int:
    """Finish a fold that a dying process left half done (see ``_fold``)."""
    for journal in root.glob(f".*_{ARCHIVE}.journal"):
        kind = journal.name[1:-len(f"_{ARCHIVE}.journal")]
        archive = root / f"{kind}_{ARCHIVE}.db"
        try:
            done = json.loads(journal.read_text())
        except (OSError, ValueError):
            done = {}
        if archive.exists() and done.get("archive_sha256") == _digest(archive):
            for name in done.get("sources", []):  # folded already: only the clean-up was lost
                (root / Path(name).name).unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
    groups: dict[str, list[Path]] = {}
    for f in sorted(root.glob("*.db.folding")):  # renamed but not folded: fold them now
        groups.setdefault(f.name[:-len(".db.folding")].rpartition("_")[0], []).append(f)
    return sum(_fold(root, kind, files) for kind, files in groups.items())


def compact(mp_dir: str | Path) -> int:
    """Fold the files of exited processes into the archives (call under ``locked``); returns files folded."""
    root = Path(mp_dir)
    folded = _recover(root)
    groups: dict[str, list[Path]] = {}
    for f in sorted(root.glob("*.db")):
        kind, _, pid = f.stem.rpartition("_")
        if not pid.isdigit() or pid_alive(int(pid)):
            continue
        if not _sized(f):  # died before writing anything
            f.unlink(missing_ok=True)
            folded += 1
        elif kind.startswith("gauge_live"):
            f.unlink(missing_ok=True)  # a dead process's live gauge no longer counts
            folded += 1
        elif kind in FOLDED:
            folding = f.with_name(f.name + ".folding")
            os.replace(f, folding)
            groups.setdefault(kind, []).append(folding)
    for kind, files in groups.items():
        folded += _fold(root, kind, files)
    return folded


__all__ = ["FolderCollector", "collect", "compact", "locked", "pid_alive"]
