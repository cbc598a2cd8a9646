"""Maps of Peru for every page, drawn offline from the regions' GeoJSON (passed in by the callbacks).

Every map is a plotly ``choropleth`` of the 25 regions on a ``geo`` subplot with the base map hidden
(``geo.visible=False``, ``fitbounds="geojson"``, Mercator), with ``scattergeo`` layers on top (DCs, corridors,
a lot's journey, suppliers). Why this and not ``choroplethmap`` (MapLibre with the ``white-bg`` style), which
also renders from local GeoJSON:

- **Any browser.** ``choroplethmap`` draws with WebGL: without it (remote desktops, locked-down laptops,
  headless Chromium with ``--disable-gpu``) the map is an error box, the failure the Segments scatter had.
  ``choropleth`` draws SVG paths with d3-geo and needs nothing from the GPU.
- **Labels stay on our host.** MapLibre draws text (region, site and DC names) from glyph files that its
  ``white-bg`` style fetches from a font server; SVG text needs no download.
- **Same weight, faster.** Both carry the same GeoJSON in the figure: the Logistics map's JSON is ~58 KB
  either way (the simplified outlines are 44 KB of it). Drawing it in headless Chromium on the demo data
  (``python -m benchmarks.screenshots --measure``, best of 5): ``choropleth`` 133 ms, ``choroplethmap``
  1,193 ms on Chromium's software WebGL (SwiftShader), and nothing at all where WebGL is off.

One catch, handled here: plotly.js fetches a base-layer topology (``world_110m.json``) for any geo subplot
whose first trace has a ``locationmode`` (a GeoJSON choropleth has ``geojson-id``), even with the base map
hidden, and by default from ``cdn.plot.ly``. :func:`graph_config` points plotly's ``topojsonURL`` at the app's
own ``assets/plotly-geo/``, which holds an empty topology of that name, so no request leaves the app's host.
Every ``dcc.Graph`` that can show a map takes ``config=graph_config()``.

Figures are plain dicts (``dcc.Graph`` takes them as they are; plotly's per-call validation of a 44 KB
GeoJSON would cost more than drawing it). This module never imports analytics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash
from dash import dcc

from components.i18n import translator
from components.theme import COLORWAY, normalize_theme, template_json

GEO_ASSETS = "plotly-geo/"  # under assets/: the empty base-layer topology plotly.js asks for
Outlines = Mapping[str, Any]  # a GeoJSON FeatureCollection, one feature per region, ``id`` = ISO 3166-2:PE code
Record = Mapping[str, Any]

TEXT = {
    "es": {
        "nodata": "sin datos", "dcs": "Centros de distribución", "corridors": "Corredores viales",
        "abroad": "{to} ({country}) desde {site}",
    },
    "en": {
        "nodata": "no data", "dcs": "Distribution centres", "corridors": "Road corridors",
        "abroad": "{to} ({country}) from {site}",
    },
}
t = translator(TEXT)


@dataclass(frozen=True)
class MapColors:
    """The colours a map takes from the theme (the data colour scales are the same in both)."""

    border: str  # region borders
    empty: str  # a region without data / the plain outline
    text: str  # names written on the map (with a contrasting halo, so they read over any fill)
    point: str  # DCs and other landmarks
    line: str  # road corridors
    muted: str  # background sites
    path: str  # a lot's journey


COLORS: dict[str, MapColors] = {
    "light": MapColors(border="#ffffff", empty="#e3e7eb", text="#1b1f23", point="#212529",
                       line="rgba(33,37,41,0.6)", muted="#98a2ad", path=COLORWAY[0]),
    "dark": MapColors(border="#212529", empty="#3a4148", text="#f1f3f5", point="#f8f9fa",
                      line="rgba(248,249,250,0.65)", muted="#7d8791", path="#ff6b6b"),
}


def colors(theme: object) -> MapColors:
    return COLORS[normalize_theme(theme)]


def graph_config() -> dcc.Graph.Config:
    """``dcc.Graph`` config for a map: plotly's topology requests go to this app's assets, never to a CDN;
    the mouse wheel scrolls the page rather than zooming the map."""
    try:
        url = dash.get_asset_url(GEO_ASSETS)
    except (AttributeError, KeyError):  # no app yet (a layout built in a test): Dash's default assets path
        url = "/assets/" + GEO_ASSETS
    return {"displaylogo": False, "scrollZoom": False, "topojsonURL": url}


def figure(data: list[dict[str, Any]], layout: Mapping[str, Any], theme: object) -> dict[str, Any]:
    """A figure as a plain dict in the theme's template."""
    base = {"template": template_json(normalize_theme(theme)), "margin": {"l": 40, "r": 20, "t": 40, "b": 40}}
    return {"data": data, "layout": {**base, **layout}}


def geo_layout(theme: object) -> dict[str, Any]:
    """The hidden base map fitted to Peru's outline (Mercator, as Peru is drawn in its atlases)."""
    return {"visible": False, "fitbounds": "geojson", "projection": {"type": "mercator"},
            "bgcolor": "rgba(0,0,0,0)"}


def map_layout(theme: object, height: int, **extra: Any) -> dict[str, Any]:
    return {"geo": geo_layout(theme), "height": height, "showlegend": False, "dragmode": False,
            "margin": {"l": 0, "r": 0, "t": 10, "b": 0}, **extra}


# ---- layers ---------------------------------------------------------------------------------

def features(outlines: Outlines, codes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The outlines' features, all or those of ``codes`` (in the outlines' order)."""
    feats = list(outlines.get("features") or [])
    if codes is None:
        return feats
    want = set(codes)
    return [f for f in feats if f.get("id") in want]


def _collection(feats: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(feats)}


def outline_trace(outlines: Outlines, names: Mapping[str, str], theme: object,
                  codes: Iterable[str] | None = None, hover: str | None = None) -> dict[str, Any] | None:
    """Regions in the plain colour (all, or ``codes``): the map's outline, or the regions without data.
    Hover names the region (with ``hover`` after it); clicking one reports its code as ``customdata``."""
    feats = features(outlines, codes)
    if not feats:
        return None
    c = colors(theme)
    ids = [str(f["id"]) for f in feats]
    return {"type": "choropleth", "geojson": _collection(feats), "locations": ids, "z": [0] * len(ids),
            "zmin": 0, "zmax": 1, "colorscale": [[0, c.empty], [1, c.empty]], "showscale": False,
            "marker": {"line": {"color": c.border, "width": 0.8}}, "customdata": [[i] for i in ids],
            "hovertext": [names.get(i, i) + (f" · {hover}" if hover else "") for i in ids],
            "hovertemplate": "%{hovertext}<extra></extra>", "name": "", "showlegend": False}


def value_trace(outlines: Outlines, values: Mapping[str, float], hovertext: Mapping[str, str], theme: object, *,
                colorscale: Any, zmin: float, zmax: float, colorbar: Mapping[str, Any]) -> dict[str, Any] | None:
    """Regions coloured by ``values`` (code → number), in the outlines' order; hover shows ``hovertext``."""
    feats = [f for f in features(outlines) if values.get(str(f["id"])) is not None]
    if not feats:
        return None
    ids = [str(f["id"]) for f in feats]
    return {"type": "choropleth", "geojson": _collection(feats), "locations": ids,
            "z": [values[i] for i in ids], "zmin": zmin, "zmax": zmax, "colorscale": colorscale,
            "colorbar": {"thickness": 12, "len": 0.6, "x": 1.0, "xanchor": "right", **colorbar},
            "marker": {"line": {"color": colors(theme).border, "width": 0.8}},
            "customdata": [[i] for i in ids], "hovertext": [hovertext.get(i, i) for i in ids],
            "hovertemplate": "%{hovertext}<extra></extra>", "name": "", "showlegend": False}


def textfont(theme: object, size: int = 10) -> dict[str, Any]:
    """Map text in the theme's colour with a contrasting halo (readable over any region's fill)."""
    return {"size": size, "color": colors(theme).text, "shadow": "auto"}


def label_trace(outlines: Outlines, names: Mapping[str, str], theme: object, size: int = 9) -> dict[str, Any]:
    """Region names at their label points (the ``label`` property of each feature)."""
    feats = [f for f in features(outlines) if (f.get("properties") or {}).get("label")]
    ids = [str(f["id"]) for f in feats]
    return {"type": "scattergeo", "mode": "text", "lon": [f["properties"]["label"][0] for f in feats],
            "lat": [f["properties"]["label"][1] for f in feats], "text": [names.get(i, i) for i in ids],
            "textfont": textfont(theme, size), "hoverinfo": "skip", "name": "", "showlegend": False}


def points_trace(records: Sequence[Record], *, text: Sequence[str] | None = None,
                 hovertext: Sequence[str] | None = None, marker: Mapping[str, Any] | None = None,
                 textposition: str | Sequence[str] = "middle right", textfont: Mapping[str, Any] | None = None,
                 name: str = "") -> dict[str, Any]:
    """Points at the records' ``lat``/``lon`` (labelled with ``text`` when given)."""
    trace: dict[str, Any] = {"type": "scattergeo", "mode": "markers+text" if text is not None else "markers",
                             "lon": [r["lon"] for r in records], "lat": [r["lat"] for r in records],
                             "marker": dict(marker or {}), "name": name, "showlegend": False}
    if text is not None:
        trace.update(text=list(text), textposition=textposition if isinstance(textposition, str)
                     else list(textposition), textfont=dict(textfont or {}))
    if hovertext is not None:
        trace.update(hovertext=list(hovertext), hovertemplate="%{hovertext}<extra></extra>")
    else:
        trace["hoverinfo"] = "skip"
    return trace


def lines_trace(polylines: Sequence[Sequence[tuple[float, float]]], *, color: str, width: float = 2,
                dash: str = "solid", hover: str | None = None, name: str = "") -> dict[str, Any]:
    """Polylines of (lat, lon) points in one trace (broken between polylines)."""
    lat: list[float | None] = []
    lon: list[float | None] = []
    for line in polylines:
        if lat:
            lat.append(None)
            lon.append(None)
        lat += [p[0] for p in line]
        lon += [p[1] for p in line]
    trace: dict[str, Any] = {"type": "scattergeo", "mode": "lines", "lat": lat, "lon": lon, "name": name,
                             "line": {"color": color, "width": width, "dash": dash}, "showlegend": False}
    if hover:
        trace.update(hovertext=[hover if la is not None else "" for la in lat],
                     hovertemplate="%{hovertext}<extra></extra>")
    else:
        trace["hoverinfo"] = "skip"
    return trace


# ---- maps -----------------------------------------------------------------------------------

def region_map(outlines: Outlines, values: Mapping[str, float | None], names: Mapping[str, str],
               hovertext: Mapping[str, str], theme: object, *, colorscale: Any, colorbar: Mapping[str, Any],
               zmin: float = 0.0, zmax: float | None = None, height: int = 600, lang: str = "es",
               labels: bool = True, layers: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Peru's regions coloured by ``values`` (code → number or None), regions without a value in the plain
    colour, region names written on the map, ``layers`` (points, lines) on top. Click: ``customdata`` = code."""
    have = {k: float(v) for k, v in values.items() if v is not None}
    top = zmax if zmax is not None else max([*have.values(), zmin + 1e-9])
    data = [outline_trace(outlines, names, theme, [str(f["id"]) for f in features(outlines)
                                                     if str(f["id"]) not in have], hover=t("nodata", lang)),
            value_trace(outlines, have, hovertext, theme, colorscale=colorscale, zmin=zmin, zmax=top,
                        colorbar=colorbar),
            *layers]
    if labels:
        data.append(label_trace(outlines, names, theme))
    legend = any(d.get("showlegend") for d in layers)
    return figure([d for d in data if d is not None],
                  map_layout(theme, height, clickmode="event", showlegend=legend, legend=legend_layout(theme)),
                  theme)


def legend_layout(theme: object) -> dict[str, Any]:
    """A small legend in the map's lower left corner (over the Pacific)."""
    return {"x": 0.01, "y": 0.02, "xanchor": "left", "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)",
            "font": {"size": 11}, "itemclick": False, "itemdoubleclick": False}


def dc_layer(dcs: Sequence[Record], theme: object, lang: str) -> dict[str, Any]:
    """Distribution centres (``dc_id``, ``city``, ``lat``, ``lon``, ``region``): squares named on hover and in the
    legend (their cities are the regions' capitals, already named on the map). A click on one reports the
    region it stands in, as a click on the region would."""
    c = colors(theme)
    trace = points_trace(dcs, hovertext=[f"<b>{d['dc_id']}</b> · {d['city']}" for d in dcs],
                         marker={"symbol": "square", "size": 8, "color": c.point,
                                 "line": {"width": 1, "color": c.border}}, name=t("dcs", lang))
    return {**trace, "showlegend": True, "customdata": [[d.get("region")] for d in dcs]}


def corridor_layer(routes: Mapping[str, Sequence[Sequence[tuple[str, float, float]]]], theme: object,
                   lang: str) -> list[dict[str, Any]]:
    """Main road corridors (name → branches of (town, lat, lon)), one dashed line per corridor, one legend entry
    for all of them. They take no hover: the towns they pass would otherwise catch the clicks meant for the
    regions around them."""
    c = colors(theme)
    out = []
    for i, (key, branches) in enumerate(routes.items()):
        trace = lines_trace([[(lat, lon) for _, lat, lon in branch] for branch in branches], color=c.line,
                            width=2, dash="dash", name=t("corridors", lang))
        out.append({**trace, "legendgroup": "corridors", "showlegend": i == 0, "meta": key})
    return out


def _clusters(path: Sequence[Record], radius_deg: float) -> list[list[int]]:
    """Indices of path vertices grouped when they lie within ``radius_deg`` of the group's first one."""
    groups: list[list[int]] = []
    for i, p in enumerate(path):
        for g in groups:
            q = path[g[0]]
            if math.hypot(p["lat"] - q["lat"], p["lon"] - q["lon"]) <= radius_deg:
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


DEG_PER_CHAR = 0.25  # longitude a character of 11 px text takes on a ~520 px map of Peru


def fan_headings(headings: Sequence[float], spread: float = 20.0) -> list[float]:
    """Headings nudged apart so arrows leaving one place do not overlap (order kept, at least ``spread``°)."""
    out: list[float] = []
    for h in headings:
        while any(abs((h - o + 180) % 360 - 180) < spread for o in out):
            h = (h - spread) % 360
        out.append(h)
    return out


def leg_end(lat: float, lon: float, heading: float, length_deg: float) -> tuple[float, float]:
    """The point ``length_deg`` away from (lat, lon) along a compass heading (local flat approximation)."""
    rad = math.radians(heading)
    return (lat + length_deg * math.cos(rad), lon + length_deg * math.sin(rad) / math.cos(math.radians(lat)))


def journey_map(outlines: Outlines, names: Mapping[str, str], path: Sequence[Record], exits: Sequence[Record],
                sites: Sequence[Record], step_names: Sequence[str], theme: object, lang: str,
                height: int = 520, leg_deg: float = 5.0) -> dict[str, Any]:
    """A lot's journey over Peru's outline: the sites it went through joined in event order (numbered and
    named inland, nearby ones sharing a label), every other known site as a faint dot, and each shipment abroad
    as an arrow leaving Peru from its port out to sea towards the buyer (``heading``), named at its head with
    the buyer and country. The view fits the outline, the arrows and room for their names over the Pacific.

    ``path``: vertices (``name``, ``lat``, ``lon``) in event order; ``exits``: ``from``, ``lat``, ``lon``, ``to``,
    ``country``, ``heading``; ``step_names``: what happened at each vertex (hover), same length as ``path``."""
    c = colors(theme)
    data: list[dict[str, Any]] = []
    base = outline_trace(outlines, names, theme)
    if base is not None:
        data.append(base)
    on_route = {p["name"] for p in path}
    others = [s for s in sites if s.get("name") not in on_route and s.get("lat") is not None]
    if others:
        data.append(points_trace(others, hovertext=[str(s["name"]) for s in others],
                                 marker={"size": 4, "color": c.muted}))
    seen: set[tuple[str, str]] = set()
    legs = []
    for e in exits:
        key = (str(e["from"]), str(e["to"]))
        if key not in seen:
            seen.add(key)
            legs.append(e)
    room: list[tuple[float, float]] = []  # where the arrows' names end, west of their heads
    for e, h in zip(legs, fan_headings([float(e["heading"]) for e in legs])):
        end = leg_end(float(e["lat"]), float(e["lon"]), h, leg_deg)
        label = t("abroad", lang, to=e["to"], country=e["country"], site=e["from"])
        name = f"{e['to']} ({e['country']})"
        room.append((end[0], max(-100.0, end[1] - DEG_PER_CHAR * (len(name) + 2))))
        data.append({"type": "scattergeo", "mode": "lines+markers+text", "lat": [e["lat"], end[0]],
                     "lon": [e["lon"], end[1]], "line": {"color": c.path, "width": 2, "dash": "dot"},
                     "marker": {"size": [0, 16], "symbol": "arrow", "angle": [0, h], "color": c.path},
                     "text": ["", name], "textposition": "middle left",
                     "textfont": textfont(theme, 11), "hovertext": [label, label], "showlegend": False,
                     "hovertemplate": "%{hovertext}<extra></extra>", "name": str(e["to"])})
    if room:  # invisible: makes the fitted view keep the names in
        data.append({"type": "scattergeo", "mode": "markers", "lat": [r[0] for r in room],
                     "lon": [r[1] for r in room], "marker": {"size": 0, "opacity": 0}, "hoverinfo": "skip",
                     "showlegend": False, "name": "room"})
    if path:
        hover = [f"{i + 1}. {p['name']} · {step}" for i, (p, step) in enumerate(zip(path, step_names))]
        data.append({"type": "scattergeo", "mode": "lines+markers", "lat": [p["lat"] for p in path],
                     "lon": [p["lon"] for p in path], "line": {"color": c.path, "width": 3},
                     "marker": {"size": 10, "color": c.path, "line": {"width": 1.5, "color": c.border}},
                     "customdata": [[p["name"]] for p in path], "hovertext": hover, "showlegend": False,
                     "hovertemplate": "%{hovertext}<extra></extra>", "name": "path"})
        groups = _clusters(path, 0.6)
        anchors = [path[g[0]] for g in groups]
        texts = ["<br>".join(f"{i + 1}. {path[i]['name']}" for i in g) for g in groups]
        # named inland (to the right): the sea to the left is where the arrows abroad go
        data.append(points_trace(anchors, text=texts, textposition="middle right",
                                 marker={"size": 0, "opacity": 0}, textfont=textfont(theme, 11), name="labels"))
    layout = map_layout(theme, height)
    layout["geo"]["fitbounds"] = "locations"  # the outline and the arrows' heads
    return figure(data, layout, theme)


def sites_map(outlines: Outlines, names: Mapping[str, str], layers: Sequence[dict[str, Any]], theme: object,
              height: int = 560) -> dict[str, Any]:
    """Point layers (suppliers, a kitchen, lines between them) over Peru's plain outline."""
    base = outline_trace(outlines, names, theme)
    return figure([*([base] if base else []), *layers], map_layout(theme, height), theme)
