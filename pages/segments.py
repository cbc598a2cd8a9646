"""Segments: RFM + K-means customer segments, their profiles, movement and export."""

import dash

from components import ids, segments

dash.register_page(__name__, path=ids.PATH_SEGMENTS, name="Segments", order=20)


def layout(k: str | None = None, start: str | None = None, end: str | None = None, regions: str | None = None,
           compare: str | None = None, **_ignored: object):
    return segments.layout(k=k, start=start, end=end, regions=regions, compare=compare)
