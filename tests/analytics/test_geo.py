"""Peru's geography shipped with the product: region outlines (GeoJSON, MPL-2.0), corridors, sea headings."""

from __future__ import annotations

import json

import pytest

from analytics import geo
from analytics.geodata import build
from tests.conftest import SHARED

SOURCE = SHARED / "geo" / "peru_departamental_simple.geojson"


def _rings(feature: dict) -> list[list[list[float]]]:
    g = feature["geometry"]
    polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
    return [ring for poly in polys for ring in poly]


def _inside(x: float, y: float, ring: list[list[float]]) -> bool:
    """Ray casting: is (x, y) inside the closed ring?"""
    hit = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def test_outlines_hold_each_region_once_keyed_by_iso_code() -> None:
    data = geo.region_outlines()
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 25
    assert sorted(f["id"] for f in data["features"]) == sorted(geo.REGION_CODES)
    for f in data["features"]:
        code = f["id"]
        assert f["properties"]["code"] == code and f["properties"]["name"] == geo.REGION_BY_CODE[code].name
        for ring in _rings(f):
            assert ring[0] == ring[-1] and len(ring) >= 4  # closed, at least a triangle
            assert all(-81.5 < x < -68.5 and -18.5 < y < 0.1 for x, y in ring)  # Peru's extent
    # the INEI department codes the source carried follow the alphabetical order INEI uses (Callao = 07)
    inei = {f["id"]: f["properties"]["inei"] for f in data["features"]}
    assert inei["PE-AMA"] == "01" and inei["PE-CAL"] == "07" and inei["PE-UCA"] == "25"


def test_every_capital_lies_in_its_own_region() -> None:
    """The outlines are where the regions are: each department's capital falls inside its own polygon only."""
    data = geo.region_outlines()
    for r in geo.REGIONS:
        if r.code == "PE-CAL":
            continue  # the capital's coordinates sit on Callao's coastline (the region is a sliver)
        holders = [f["id"] for f in data["features"]
                   if sum(_inside(r.lon, r.lat, ring) for ring in _rings(f)) % 2 == 1]
        assert holders == [r.code], (r.code, r.capital, holders)


def test_outlines_ship_their_license_and_notice() -> None:
    data = json.loads(geo.OUTLINES_PATH.read_text(encoding="utf-8"))
    assert data["license"] == "MPL-2.0" and "juaneladio/peru-geojson" in data["source"]
    assert "Mozilla Public License 2.0" in data["notice"]
    license_text = (geo.OUTLINES_PATH.parent / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("Mozilla Public License Version 2.0")
    assert "Mozilla Public License" in (geo.OUTLINES_PATH.parent / "README.md").read_text(encoding="utf-8")
    assert geo.OUTLINES_PATH.stat().st_size < 60_000  # simplified: small enough to travel in every map figure


def test_outline_code_reads_inei_names() -> None:
    assert geo.outline_code("MADRE DE DIOS") == "PE-MDD"
    assert geo.outline_code("ANCASH") == "PE-ANC" and geo.outline_code("Áncash") == "PE-ANC"
    assert geo.outline_code(" san martin ") == "PE-SAM" and geo.outline_code("CALLAO") == "PE-CAL"
    with pytest.raises(ValueError, match="not a region of Peru"):
        geo.outline_code("ATLANTIS")


def test_simplification_keeps_shared_borders_identical() -> None:
    """Two regions sharing a wiggly border: simplified, both still hold exactly the same border points."""
    border = [(0.0, float(y) / 10) for y in range(0, 11)]
    border = [(x + (0.003 if i % 2 else 0.0), y) for i, (x, y) in enumerate(border)]  # sub-tolerance wiggle
    west = [(-1.0, 0.0), *border, (-1.0, 1.0), (-1.0, 0.0)]
    east = [(1.0, 1.0), *reversed(border), (1.0, 0.0), (1.0, 1.0)]
    feats = [{"geometry": {"type": "Polygon", "coordinates": [west]}},
             {"geometry": {"type": "Polygon", "coordinates": [east]}}]
    (w,), (e,) = (p[0] for p in build.simplify_regions(feats, tolerance=0.01))
    w_border = {p for p in w if p[0] > -0.5}
    e_border = {p for p in e if p[0] < 0.5}
    assert w_border == e_border and (0.0, 0.0) in w_border and (0.0, 1.0) in w_border
    assert len(w_border) < len(border)  # the wiggle is gone
    assert build.douglas_peucker([(0, 0), (1, 0.5), (2, 0)], 0.4) == [(0, 0), (1, 0.5), (2, 0)]
    assert build.douglas_peucker([(0, 0), (1, 0.05), (2, 0)], 0.4) == [(0, 0), (2, 0)]


@pytest.mark.skipif(not SOURCE.exists(), reason="the source GeoJSON is not beside this checkout (../shared/geo)")
def test_shipped_outlines_are_what_the_build_script_makes() -> None:
    shipped = geo.region_outlines()
    params = shipped["simplification"]
    rebuilt = build.build(json.loads(SOURCE.read_text(encoding="utf-8")), params["tolerance_deg"], params["digits"])
    assert rebuilt == json.loads(json.dumps(shipped))  # the same GeoJSON (tuples and lists compared as JSON)
    assert build.vertex_count(rebuilt) < 3374  # the source's vertex count: simplified further


def test_corridor_routes_run_through_the_regions_they_serve() -> None:
    """Each corridor's drawn route has a town inside every region the scenarios say it serves."""
    assert set(geo.CORRIDOR_ROUTES) == set(geo.CORRIDORS)
    outline = {f["id"]: _rings(f) for f in geo.region_outlines()["features"]}
    for key, regions in geo.CORRIDORS.items():
        towns = [(name, lat, lon) for branch in geo.CORRIDOR_ROUTES[key] for name, lat, lon in branch]
        for code in regions:
            inside = [name for name, lat, lon in towns
                      if sum(_inside(lon, lat, ring) for ring in outline[code]) % 2 == 1]
            assert inside, (key, code)


def test_ships_leave_towards_panama_or_across_the_pacific() -> None:
    callao = (-12.05, -77.15)
    assert geo.bearing_deg(0, 0, 1, 0) == pytest.approx(0.0)
    assert geo.bearing_deg(0, 0, 0, 1) == pytest.approx(90.0)
    lo, hi = geo.OPEN_SEA_BEARINGS
    rotterdam, tokyo = (51.92, 4.48), (35.68, 139.76)
    # Europe: through the Panama Canal, i.e. north along the coast (the open sea's northern limit)
    assert geo.sea_heading(*callao, *rotterdam) == hi
    assert geo.bearing_deg(*callao, *geo.PANAMA_CANAL) > hi
    # Japan: along the great circle, north-west across the Pacific
    assert lo <= geo.sea_heading(*callao, *tokyo) <= hi
    assert geo.sea_heading(*callao, *tokyo) == pytest.approx(min(hi, geo.bearing_deg(*callao, *tokyo)))
