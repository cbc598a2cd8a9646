"""Segments callbacks called directly, asserting on the numbers they show."""

from __future__ import annotations

import polars as pl
import pytest

from analytics.engine.polars_engine import PolarsEngine
from analytics.segments.segmentation import SegmentParams, segment
from components import segments as view


@pytest.fixture(scope="module")
def cb():
    import callbacks.segments as module

    return module


def _cells(table) -> list[list[str]]:
    body = table.children[1].children
    out = []
    for tr in body:
        row = []
        for td in tr.children:
            c = td.children
            row.append(c[1] if isinstance(c, list) else c)
        out.append(row)
    return out


def test_update_segments_numbers(cb, rt, demo_dir):
    progress: list[tuple[int, str]] = []
    summary, status, curves, pca, sankey, table, options, query = cb.update_segments(
        progress.append, 6, None, None, [], None, "en", "light")
    ref = segment(PolarsEngine(demo_dir), SegmentParams(k=6), rt.settings.cache_dir)
    assert status is None
    n = ref.members.height
    assert summary == f"{n:,} customers · k = 6 · silhouette {ref.silhouette:.3f} · suggested k = {ref.suggested_k}"
    assert ref.suggested_k == 6  # the elbow lands on the planted number of archetypes
    # curves: inertia and silhouette for k = 2..10
    assert list(curves.data[0].x) == list(range(2, 11))
    assert list(curves.data[0].y) == pytest.approx(ref.curves["inertia"].to_list())
    assert list(curves.data[1].y) == pytest.approx(ref.curves["silhouette"].to_list())
    # PCA: one trace per segment, the sample split between them, drawn as SVG (no WebGL needed)
    assert len(pca.data) == 6 and sum(len(tr.x) for tr in pca.data) == min(3000, n)
    assert {tr.type for tr in pca.data} == {"scatter"}
    drawn = {tr.name: set(tr.customdata) for tr in pca.data}
    sample = ref.pca.with_columns(name=ref.pca["label"].map_elements(lambda i: ref.name(i, "en"), return_dtype=str))
    assert drawn == {name: set(g["customer_id"].to_list()) for (name,), g in sample.group_by("name")}
    if n > 3000:  # a sample: the chart says how many of how many
        assert f"3,000 of {n:,} customers" in pca.layout.annotations[0].text
    # Sankey: the right-hand side holds every current customer
    link = sankey.data[0].link
    k = 6
    right = sum(v for t, v in zip(link.target, link.value) if t < 2 * (k + 1) - 1)
    assert right == n
    # profile table: one row per segment, customer counts and shares as formatted numbers
    rows = _cells(table)
    assert len(rows) == 6
    prof = ref.profile
    assert [r[0] for r in rows] == [ref.name(i, "en") for i in prof["label"].to_list()]
    assert [r[1] for r in rows] == [f"{c:,}" for c in prof["customers"].to_list()]
    assert rows[0][4].startswith("S/ ")
    assert {o["label"] for o in options} == {"Champions", "Loyal", "Price hunters", "At risk", "Occasional", "New"}
    assert query == {"k": 6, "start": None, "end": None, "regions": [], "compare": None}
    assert progress[-1] == (100, "")


def test_update_segments_filters_in_spanish(cb, rt, demo_dir):
    out = cb.update_segments(lambda p: None, "4", "2024-12-31", "2024-01-01", ["PE-LIM"], "2024-06-30", "es", "dark")
    summary, status, *_rest, query = out
    orders = pl.read_parquet(demo_dir / "orders.parquet").filter(
        (pl.col("order_date").dt.year() == 2024) & (pl.col("region") == "PE-LIM"))
    assert summary.startswith(f"{orders['customer_id'].n_unique():,} clientes · k = 4")
    assert query == {"k": 4, "start": "2024-01-01", "end": "2024-12-31", "regions": ["PE-LIM"],
                     "compare": "2024-06-30"}  # swapped dates are put in order
    assert "Movimiento entre segmentos" in out[4].layout.title.text


def test_update_segments_bad_input(cb, rt):
    out = cb.update_segments(lambda p: None, 6, "2024-02-30", None, [], None, "es", "light")
    assert "not a date" in out[1].children
    out = cb.update_segments(lambda p: None, 6, "2030-01-01", None, [], None, "en", "light")
    assert "customers" in out[1].children
    assert out[7]["start"] == "2030-01-01"  # the URL still reflects the user's choice


def test_export_segment_csv(cb, rt, demo_dir):
    ref = segment(PolarsEngine(demo_dir), SegmentParams(k=6), rt.settings.cache_dir)
    label = int(ref.profile["label"][0])
    sent = cb.export_segment(1, label, 6, None, None, [], "es")
    df = pl.read_csv(sent["content"].encode())
    assert sent["filename"] == f"segmentos_k6_{label}.csv"
    assert df.height == int(ref.profile["customers"][0]) and df["customer_id"].n_unique() == df.height
    assert set(df["segment"]) == {ref.name(label, "es")}
    everyone = pl.read_csv(cb.export_segment(2, None, 6, None, None, [], "en")["content"].encode())
    assert everyone.height == ref.members.height == everyone["customer_id"].n_unique()
    assert cb.export_segment(3, "junk", 6, None, None, [], "en") is cb.no_update


def test_region_options(cb, rt, demo_dir):
    regions, lo, hi = cb.region_options("es")
    orders = pl.read_parquet(demo_dir / "orders.parquet")
    assert len(regions) == orders["region"].n_unique()
    lim = next(r for r in regions if r["value"] == "PE-LIM")
    n = orders.filter(pl.col("region") == "PE-LIM")["customer_id"].n_unique()
    assert lim["label"] == f"Lima ({n:,})"
    assert (lo, hi) == (orders["order_date"].min().isoformat(), orders["order_date"].max().isoformat())


def test_layout_tolerates_junk_query(settings, app_factory):
    import dash

    app_factory(settings, start_live=False)
    page = next(p for p in dash.page_registry.values() if p["path"] == "/segments")
    lay = page["layout"](k="99", start="nope", end="2024-01-31", regions="pe-lim,,<script>", compare="x",
                         utm_source="mail")
    found = {}

    def walk(node):
        if hasattr(node, "id") and getattr(node, "id", None):
            found[node.id] = node
        for ch in (node.children if isinstance(getattr(node, "children", None), list)
                   else [getattr(node, "children", None)]):
            if ch is not None and hasattr(ch, "to_plotly_json"):
                walk(ch)

    walk(lay)
    assert found["segments-k"].value == 6
    assert found["segments-dates"].start_date is None and found["segments-dates"].end_date == "2024-01-31"
    assert found["segments-regions"].value == ["PE-LIM", "<SCRIPT>"]
    assert view.parse_k("3") == 3 and view.parse_k(None) == 6


def test_pca_scatter_thins_to_an_svg_sized_sample() -> None:
    """More points than SVG draws comfortably: an even sample per segment, in proportion, stated on the chart."""
    from components import segments as view

    points = {0: {"x": list(range(7000)), "y": list(range(7000)), "id": [f"C{i}" for i in range(7000)]},
              1: {"x": list(range(3000)), "y": list(range(3000)), "id": [f"D{i}" for i in range(3000)]}}
    fig = view.pca_figure(points, ["A", "B"], (0.4, 0.2), 10_000, "es", "dark", total=10_000)
    assert [tr.type for tr in fig.data] == ["scatter", "scatter"]
    assert [len(tr.x) for tr in fig.data] == [2100, 900] and sum(len(tr.x) for tr in fig.data) == view.SVG_MAX_POINTS
    assert fig.data[0].customdata[:2] == ("C0", "C3") and len(set(fig.data[0].customdata)) == 2100
    assert fig.layout.annotations[0].text == "Se dibujan 3,000 de 10,000 clientes (muestra al azar)."
    small = view.pca_figure({0: {"x": [1, 2], "y": [3, 4], "id": ["a", "b"]}}, ["A"], (0.5, 0.3), 2, "en", "light")
    assert not small.layout.annotations and small.layout.title.text == "Customers in 2-D (PCA, all 2)"
