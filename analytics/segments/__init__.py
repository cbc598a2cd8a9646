"""Marketing segments: RFM-style customer features, K-means, named segments.

``cli(args)`` is the ``python app.py segments`` entry point; the page uses ``segment`` and
``movement`` from ``analytics.segments.segmentation``.
"""

from __future__ import annotations

from typing import Any

from analytics.segments.features import SegmentInputError, customer_features
from analytics.segments.model import K_MAX, K_MIN, SegmentModel, suggest_k
from analytics.segments.naming import NAMES, name_segments
from analytics.segments.segmentation import SegmentParams, SegmentResult, members_csv, movement, segment


def cli(args: Any) -> int:
    from analytics.segments.cli import cli as _cli

    return _cli(args)


__all__ = ["K_MAX", "K_MIN", "NAMES", "SegmentInputError", "SegmentModel", "SegmentParams", "SegmentResult",
           "cli", "customer_features", "members_csv", "movement", "name_segments", "segment", "suggest_k"]
