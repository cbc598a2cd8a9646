"""Data page callbacks called directly: the upload limit shown and enforced in the browser follows the setting."""

from __future__ import annotations

from callbacks import data as cb
from components import datasets, ids
from web.runtime import configure


def _find(node, cid):
    if getattr(node, "id", None) == cid:
        return node
    children = getattr(node, "children", None)
    for ch in children if isinstance(children, list | tuple) else [children] if children is not None else []:
        hit = _find(ch, cid)
        if hit is not None:
            return hit
    return None


def test_upload_limit_follows_the_setting(settings) -> None:
    configure(settings.replace(upload_max_mb=0.05))
    max_size, text = cb.upload_limit("en")
    assert max_size == int(0.05 * 1024 * 1024) == 52428
    assert "up to 0.05 MB" in text
    configure(settings.replace(upload_max_mb=7.5))
    max_size, text = cb.upload_limit("es")
    assert max_size == 7_864_320 and "hasta 7.5 MB" in text
    configure(settings)
    assert cb.upload_limit("es")[0] == int(settings.upload_max_mb * 1024 * 1024)


def test_layout_states_no_limit_of_its_own() -> None:
    upload = _find(datasets.layout(), ids.DATA_UPLOAD)
    assert upload is not None and getattr(upload, "max_size", -1) == -1  # the callback sets it on load
    assert _find(datasets.layout(), ids.DATA_UPLOAD_HELP).children is None
