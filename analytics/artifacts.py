"""Safe model artifacts with SHA-256 manifests (shared by every model in Chasqui).

Every artifact ``<name>.<ext>`` gets a sidecar ``<name>.<ext>.manifest.json``::

    {"file": "late_risk.skops", "format": "skops", "sha256": "…", "size_bytes": 123,
     "data_fingerprint": "sha256:…", "params": {...}, "metrics": {...},
     "created_at": "2026-11-23T18:00:00+00:00", "versions": {"python": ..., "sklearn": ...}}

Loading re-hashes the file and raises :class:`ArtifactHashError` when it differs from the manifest
(or from an ``expected_sha256`` the caller got elsewhere, e.g. the model card), *before* any
deserialisation happens. Formats:

- ``skops``  scikit-learn estimators (``skops.io``; only types from trusted module prefixes load)
- ``joblib`` anything picklable, loaded only after its hash matched (use for trusted own objects)
- ``keras``  a Keras 3 model saved as ``.keras`` and loaded with ``safe_mode=True``
  (TensorFlow/Keras is imported only here, only for this format)
- ``json``   plain JSON-serialisable data (preprocessing vocabularies, thresholds, curves)

API (keep it small): :func:`save`, :func:`load`, :func:`read_manifest`, :func:`verify`,
:func:`sha256_file`, :func:`frame_fingerprint`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMATS = ("skops", "joblib", "keras", "json")
EXTENSIONS = {"skops": ".skops", "joblib": ".joblib", "keras": ".keras", "json": ".json"}
MANIFEST_SUFFIX = ".manifest.json"
# skops refuses any type outside these module prefixes unless the caller trusts it explicitly.
DEFAULT_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


class ArtifactError(ValueError):
    """An artifact or its manifest is missing, malformed or unsafe to load."""


class ArtifactHashError(ArtifactError):
    """The artifact's bytes do not match the SHA-256 recorded for it."""


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def frame_fingerprint(frame: Any) -> str:
    """``sha256:…`` of a Polars DataFrame's content (Arrow IPC bytes, uncompressed)."""
    buf = io.BytesIO()
    frame.write_ipc(buf, compression="uncompressed")
    return "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()


def manifest_path(path: Path | str) -> Path:
    p = Path(path)
    return p.with_name(p.name + MANIFEST_SUFFIX)


def _versions(fmt: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    try:
        import sklearn

        out["sklearn"] = sklearn.__version__
    except ImportError:  # pragma: no cover
        pass
    if fmt == "keras":
        import keras

        out["keras"] = keras.__version__
    return out


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is None:
        for name, ext in EXTENSIONS.items():
            if path.name.endswith(ext):
                fmt = name
                break
    if fmt not in FORMATS:
        raise ArtifactError(f"unknown artifact format {fmt!r} for {path.name} (use one of {FORMATS})")
    return fmt


def save(obj: Any, path: Path | str, *, fmt: str | None = None, params: dict[str, Any] | None = None,
         metrics: dict[str, Any] | None = None, data_fingerprint: str | None = None) -> dict[str, Any]:
    """Write ``obj`` to ``path`` in a safe format plus its manifest; returns the manifest.

    ``fmt`` defaults from the extension (.skops, .joblib, .keras, .json). The file is written to a
    temporary name and renamed, so a reader never sees half an artifact.
    """
    path = Path(path)
    fmt = _format_of(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp" + EXTENSIONS[fmt])
    if fmt == "skops":
        import skops.io as sio

        sio.dump(obj, tmp)
    elif fmt == "joblib":
        import joblib

        joblib.dump(obj, tmp)
    elif fmt == "keras":
        obj.save(tmp)
    else:
        tmp.write_text(json.dumps(obj, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)
    manifest = {
        "file": path.name,
        "format": fmt,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        "data_fingerprint": data_fingerprint,
        "params": params or {},
        "metrics": metrics or {},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(fmt),
    }
    mpath = manifest_path(path)
    mtmp = mpath.with_name(mpath.name + ".tmp")
    mtmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(mtmp, mpath)
    return manifest


def read_manifest(path: Path | str) -> dict[str, Any]:
    """The manifest of an artifact; ArtifactError if it is missing or malformed."""
    mpath = manifest_path(path)
    if not mpath.exists():
        raise ArtifactError(f"no manifest for {Path(path).name} (expected {mpath.name}); refusing to load")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"manifest {mpath.name} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise ArtifactError(f"manifest {mpath.name} has no sha256")
    return manifest


def verify(path: Path | str, expected_sha256: str | None = None) -> dict[str, Any]:
    """Check the file against its manifest (and ``expected_sha256`` if given); returns the manifest."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"artifact not found: {path}")
    manifest = read_manifest(path)
    actual = sha256_file(path)
    for label, want in (("manifest", manifest["sha256"]), ("expected", expected_sha256)):
        if want is not None and want.removeprefix("sha256:") != actual:
            raise ArtifactHashError(
                f"{path.name}: SHA-256 {actual[:12]}… does not match the {label} hash {want[:12]}…; "
                "the file was changed or corrupted — retrain (`python app.py train`)"
            )
    return manifest


def load(path: Path | str, *, expected_sha256: str | None = None,
         trusted: list[str] | None = None) -> Any:
    """Verify the hash, then deserialise safely.

    ``trusted``: extra fully-qualified type names skops may construct (beyond
    :data:`DEFAULT_TRUSTED_PREFIXES`). Keras models load with ``safe_mode=True``.
    """
    path = Path(path)
    manifest = verify(path, expected_sha256)
    fmt = _format_of(path, manifest.get("format"))
    if fmt == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        allowed = set(trusted or ())
        refused = [t for t in untrusted if t not in allowed and not t.startswith(DEFAULT_TRUSTED_PREFIXES)]
        if refused:
            raise ArtifactError(f"{path.name} contains types that are not trusted: {', '.join(refused)}")
        return sio.load(path, trusted=untrusted)
    if fmt == "joblib":
        import joblib

        return joblib.load(path)
    if fmt == "keras":
        import keras  # heavy: only when a Keras artifact is loaded

        return keras.saving.load_model(path, safe_mode=True, compile=False)
    return json.loads(path.read_text(encoding="utf-8"))


__all__ = [
    "ArtifactError", "ArtifactHashError", "FORMATS", "frame_fingerprint", "load", "manifest_path",
    "read_manifest", "save", "sha256_file", "verify",
]
