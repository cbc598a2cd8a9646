"""Light/dark chart templates that follow the theme switch."""

from __future__ import annotations

import copy
import functools
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

THEMES = ("light", "dark")
COLORWAY = ["#c8102e", "#1f6f8b", "#e5a823", "#2a9d8f", "#6d597a", "#e76f51", "#264653", "#8ab17d"]
RISK_SCALE = [[0.0, "#2a9d8f"], [0.5, "#e9c46a"], [1.0, "#c8102e"]]


def normalize_theme(theme: object) -> str:
    return theme if theme in THEMES else "light"


@functools.cache
def _template_json(theme: str) -> dict[str, Any]:
    """A theme's template as plain JSON, built (and validated) once per process: building it costs ~30 ms."""
    base = pio.templates["plotly_dark" if theme == "dark" else "plotly_white"]
    tpl = go.layout.Template(base)
    tpl.layout.colorway = COLORWAY
    # update, not replace: the base template's font colour (light text on the dark theme) stays
    tpl.layout.font.update(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13)
    if theme == "dark":
        tpl.layout.paper_bgcolor = "#212529"
        tpl.layout.plot_bgcolor = "#212529"
    return tpl.to_plotly_json()


def template_json(theme: object) -> dict[str, Any]:
    """The theme's template as plain JSON, for figures built as dicts (the caller's own copy)."""
    return copy.deepcopy(_template_json(normalize_theme(theme)))


def template(theme: object) -> go.layout.Template:
    """The Plotly template for a theme (base template plus Chasqui's colours). Not validated again here: it was
    when first built, and a figure validates what it is given."""
    return go.layout.Template(template_json(theme), _validate=False)


def style(fig: go.Figure, theme: object, height: int | None = None) -> go.Figure:
    fig.update_layout(template=template(theme), margin={"l": 40, "r": 20, "t": 40, "b": 40})
    if height:
        fig.update_layout(height=height)
    return fig


def blank_template(theme: object) -> go.layout.Template:
    """The part of a theme's template a figure without axes or traces uses: background and font. A placeholder
    carries this (about 0.2 KB) instead of the whole template (about 7.5 KB): every page's layout holds several
    placeholders, and Dash sends every page's layout with the first page."""
    full = _template_json(normalize_theme(theme))["layout"]
    return go.layout.Template(layout={"paper_bgcolor": full["paper_bgcolor"], "plot_bgcolor": full["plot_bgcolor"],
                                      "font": copy.deepcopy(full["font"])})


def blank_figure(message: str = "", theme: object = "light", height: int = 320) -> go.Figure:
    """A figure with no axes, showing a short message (before there is anything to plot)."""
    fig = go.Figure(layout={"template": blank_template(theme), "margin": {"l": 40, "r": 20, "t": 40, "b": 40},
                            "height": height, "xaxis": {"visible": False}, "yaxis": {"visible": False}})
    if message:
        fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                           font={"size": 14, "color": "#6c757d"})
    return fig
