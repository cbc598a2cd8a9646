"""Rebuild ``peru_regions.geojson`` from the departmental GeoJSON it derives from (not run by the app).

    python -m analytics.geodata.build SOURCE.geojson [--tolerance 0.012] [--digits 3]

The source (``NOMBDEP``/``FIRST_IDDP`` properties, see README.md here) is simplified without opening gaps
between neighbours: every ring is cut at its nodes (where the set of regions sharing a vertex changes), each
chain is simplified once with Douglas-Peucker and reused, reversed where needed, by the other region that
shares it. Coordinates are then rounded (3 digits ≈ 110 m, well under a pixel of the page's map). Features
are keyed by ISO 3166-2:PE code (``id``) with the region's name; the MPL-2.0 notice travels inside the file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analytics import geo

Point = tuple[float, float]

SOURCE = "juaneladio/peru-geojson (peru_departamental_simple.geojson), after INEI / MINAM Geoservidor limits"
NOTICE = ("Region outlines: a further simplified copy of peru_departamental_simple.geojson from "
          "github.com/juaneladio/peru-geojson, itself from INEI's departmental limits (MINAM Geoservidor). "
          "Subject to the Mozilla Public License 2.0 (analytics/geodata/LICENSE); "
          "the source is at https://github.com/juaneladio/peru-geojson.")


def _dist(p: Point, a: Point, b: Point) -> float:
    """Distance from ``p`` to the segment ``a``–``b`` (planar, in degrees)."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    if dx == 0 and dy == 0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def douglas_peucker(points: Sequence[Point], tolerance: float) -> list[Point]:
    """The polyline's points that stay within ``tolerance`` of it (both ends always kept)."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        best, at = -1.0, -1
        for k in range(i + 1, j):
            d = _dist(points[k], points[i], points[j])
            if d > best:
                best, at = d, k
        if at > 0 and best > tolerance:
            keep[at] = True
            stack += [(i, at), (at, j)]
    return [p for p, k in zip(points, keep) if k]


def _rings(feature: dict[str, Any]) -> list[list[list[Point]]]:
    geom = feature["geometry"]
    polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    return [[[(float(x), float(y)) for x, y, *_ in ring] for ring in poly] for poly in polys]


def simplify_regions(features: Sequence[dict[str, Any]], tolerance: float) -> list[list[list[list[Point]]]]:
    """Every feature's polygons (rings of points, closed) simplified with shared borders kept identical."""
    shapes = [_rings(f) for f in features]
    owners: dict[Point, set[int]] = {}
    for fi, polys in enumerate(shapes):
        for poly in polys:
            for ring in poly:
                for p in ring:
                    owners.setdefault(p, set()).add(fi)
    done: dict[tuple[Point, ...], list[Point]] = {}

    def chain(points: list[Point]) -> list[Point]:
        fwd, rev = tuple(points), tuple(reversed(points))
        if fwd in done:
            return done[fwd]
        if rev in done:
            return list(reversed(done[rev]))
        done[fwd] = douglas_peucker(points, tolerance)
        return done[fwd]

    out: list[list[list[list[Point]]]] = []
    for polys in shapes:
        new_polys = []
        for poly in polys:
            new_rings = []
            for ring in poly:
                pts = ring[:-1] if ring[0] == ring[-1] else ring
                n = len(pts)
                nodes = [i for i in range(n)
                         if owners[pts[i - 1]] != owners[pts[i]] or owners[pts[(i + 1) % n]] != owners[pts[i]]]
                if not nodes:  # an island or an enclave: start at a point both sides of it agree on
                    start = min(range(n), key=lambda i: pts[i])
                    far = max(range(n), key=lambda i: math.hypot(pts[i][0] - pts[start][0],
                                                                 pts[i][1] - pts[start][1]))
                    nodes = sorted({start, far})
                simplified: list[Point] = []
                for a, b in zip(nodes, nodes[1:] + [nodes[0] + n]):
                    piece = [pts[k % n] for k in range(a, b + 1)]
                    simplified += chain(piece)[:-1]
                if len(set(simplified)) < 3:  # too small to simplify (Callao at a coarse tolerance)
                    simplified = pts
                new_rings.append([*simplified, simplified[0]])
            new_polys.append(new_rings)
        out.append(new_polys)
    return out


# Where a region's name goes when its centroid does not suit: Callao is a sliver of coast (named offshore);
# the others would overlap a neighbour's name.
LABEL_AT: dict[str, Point] = {"PE-CAL": (-77.75, -12.0), "PE-LAM": (-80.25, -6.4), "PE-CAJ": (-78.65, -7.05),
                              "PE-AYA": (-74.1, -14.7), "PE-APU": (-72.9, -13.85), "PE-SAM": (-76.55, -6.45)}


def centroid(ring: Sequence[Point]) -> Point:
    """Area centroid of a closed ring (shoelace); the vertices' mean for a degenerate one."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-12:
        return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
    return (cx / (3 * a), cy / (3 * a))


def label_point(code: str, polys: Sequence[Sequence[Sequence[Point]]]) -> Point:
    """Where the region's name is written: its largest polygon's centroid (or :data:`LABEL_AT`)."""
    if code in LABEL_AT:
        return LABEL_AT[code]

    def area(ring: Sequence[Point]) -> float:
        return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))) / 2

    return centroid(max((poly[0] for poly in polys), key=area))


def _rounded(ring: list[Point], digits: int) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in ring:
        p = [round(x, digits), round(y, digits)]
        if not out or out[-1] != p:
            out.append(p)
    return out


def build(source: dict[str, Any], tolerance: float = 0.012, digits: int = 3) -> dict[str, Any]:
    """The product's GeoJSON: one feature per region, ``id`` = ISO 3166-2:PE code, simplified and rounded."""
    features = source["features"]
    codes = [geo.outline_code(str(f["properties"]["NOMBDEP"])) for f in features]
    missing = set(geo.REGION_CODES) - set(codes)
    if missing or len(codes) != len(set(codes)):
        raise ValueError(f"the source does not hold each region once (missing: {sorted(missing)})")
    shapes = simplify_regions(features, tolerance)
    out = []
    for f, code, polys in sorted(zip(features, codes, shapes), key=lambda x: x[1]):
        coords = [[_rounded(ring, digits) for ring in poly] for poly in polys]
        geometry = ({"type": "Polygon", "coordinates": coords[0]} if len(coords) == 1
                    else {"type": "MultiPolygon", "coordinates": coords})
        out.append({"type": "Feature", "id": code,
                    "properties": {"code": code, "name": geo.REGION_BY_CODE[code].name,
                                   "inei": str(f["properties"].get("FIRST_IDDP") or ""),
                                   "label": [round(v, 3) for v in label_point(code, polys)]},
                    "geometry": geometry})
    return {"type": "FeatureCollection", "name": "peru_regions", "license": "MPL-2.0", "source": SOURCE,
            "notice": NOTICE, "simplification": {"tolerance_deg": tolerance, "digits": digits},
            "features": out}


def vertex_count(collection: dict[str, Any]) -> int:
    return sum(len(ring) for f in collection["features"] for poly in
               (f["geometry"]["coordinates"] if f["geometry"]["type"] == "MultiPolygon"
                else [f["geometry"]["coordinates"]]) for ring in poly)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.012, help="Douglas-Peucker tolerance in degrees")
    parser.add_argument("--digits", type=int, default=3, help="decimal digits kept in coordinates")
    parser.add_argument("--out", type=Path, default=geo.OUTLINES_PATH)
    args = parser.parse_args(argv)
    result = build(json.loads(args.source.read_text(encoding="utf-8")), args.tolerance, args.digits)
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({"out": str(args.out), "features": len(result["features"]),
                      "vertices": vertex_count(result), "bytes": len(text.encode())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
