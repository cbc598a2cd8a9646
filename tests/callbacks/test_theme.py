"""Chart templates: Chasqui's colours over Plotly's light and dark templates, built once per process; each caller
gets its own copy; placeholders carry only the background and the font."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from components import theme


def test_templates_are_plotlys_with_chasquis_colours_and_font():
    for name, base, paper in (("light", "plotly_white", "white"), ("dark", "plotly_dark", "#212529")):
        tpl = theme.template(name).layout
        assert list(tpl.colorway) == theme.COLORWAY and tpl.font.size == 13 and tpl.font.family.startswith("system-ui")
        assert tpl.paper_bgcolor == paper
        assert tpl.font.color == pio.templates[base].layout.font.color  # the base template's text colour kept
        assert tpl.xaxis.gridcolor == pio.templates[base].layout.xaxis.gridcolor  # and the rest of it
    assert theme.template("unknown").to_plotly_json() == theme.template("light").to_plotly_json()


def test_every_caller_gets_its_own_copy():
    mine = theme.template("dark")
    mine.layout.paper_bgcolor = "#ff0000"
    raw = theme.template_json("dark")
    raw["layout"]["colorway"].append("#000000")
    assert theme.template("dark").layout.paper_bgcolor == "#212529"
    assert list(theme.template("dark").layout.colorway) == theme.COLORWAY
    assert theme.template_json("dark")["layout"]["colorway"] == theme.COLORWAY


def test_a_styled_figure_carries_the_whole_template_and_a_placeholder_only_its_background_and_font():
    fig = theme.style(go.Figure(go.Bar(x=[1], y=[2])), "dark", height=250)
    assert fig.layout.template.to_plotly_json() == theme.template_json("dark") and fig.layout.height == 250
    blank = theme.blank_figure("Sin datos", "dark").to_plotly_json()
    assert blank["layout"]["template"] == {"layout": {"paper_bgcolor": "#212529", "plot_bgcolor": "#212529",
                                                      "font": theme.template_json("dark")["layout"]["font"]}}
    assert blank["layout"]["annotations"][0]["text"] == "Sin datos" and blank["data"] == []
