"""Model artifacts load only when their hash matches the manifest; no pickle from a user-chosen path."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from analytics import artifacts
from tests.conftest import ROOT


class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_tampered_artifact_is_refused_before_deserialisation(tmp_path):
    path = tmp_path / "model.joblib"
    artifacts.save({"threshold": 0.42}, path, params={"k": 1})
    assert artifacts.load(path) == {"threshold": 0.42}
    marker = tmp_path / "pwned"
    path.write_bytes(pickle.dumps(_Boom(marker)))  # an attacker swaps the file, keeps the manifest
    with pytest.raises(artifacts.ArtifactHashError):
        artifacts.load(path)
    assert not marker.exists()
    (tmp_path / "loose.joblib").write_bytes(pickle.dumps(_Boom(marker)))  # no manifest at all
    with pytest.raises(artifacts.ArtifactError, match="no manifest"):
        artifacts.load(tmp_path / "loose.joblib")
    assert not marker.exists()


def test_no_callback_or_page_deserialises_files():
    """Callbacks and pages never unpickle or load artifacts themselves (paths come from settings only)."""
    pattern = re.compile(r"\b(pickle\.loads?|joblib\.load|artifacts\.load|torch\.load|np\.load|yaml\.load)\(")
    offenders = [f"{f.relative_to(ROOT)}: {m.group(0)}" for d in ("callbacks", "pages", "components")
                 for f in (ROOT / d).glob("*.py") for m in pattern.finditer(f.read_text(encoding="utf-8"))]
    assert offenders == []
