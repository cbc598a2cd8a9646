"""The Traceability page's shelf-life panel called directly: the numbers of predict_lot, the drivers' waterfall,
the what-if, "does not apply", bad what-if inputs, no model; its output is public page content."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dash import Dash
from plotly.utils import PlotlyJSONEncoder

from analytics.shelflife.kinetics import PRODUCTS
from analytics.shelflife.predict import predict_lot
from analytics.traceability.lots import list_lots
from components import format as fmt
from components import ids


@pytest.fixture()
def cb(shelf_settings):
    from web.runtime import configure

    configure(shelf_settings)
    import callbacks.traceability as mod

    return mod


def _lot(d: Path, crop: str) -> dict[str, str]:
    row = list_lots(d).filter(pl.col("crop") == crop).row(0, named=True)
    return {"gtin": row["gtin"], "lot": row["lot_code"]}


def _components(node: Any) -> Any:
    """Every component and string in a rendered tree (through ``children``)."""
    if isinstance(node, list | tuple):
        for v in node:
            yield from _components(v)
    elif node is not None:
        yield node
        if not isinstance(node, str):
            yield from _components(getattr(node, "children", None))


def _text(node: Any) -> str:
    return " ".join(x for x in _components(node) if isinstance(x, str))


def _figures(node: Any) -> list[Any]:
    return [x.figure for x in _components(node) if type(x).__name__ == "Graph"]


def test_panel_shows_the_numbers_of_predict_lot_and_drivers_that_add_up(cb, shelf_dir: Path) -> None:
    lot = _lot(shelf_dir, "blueberry")
    out = cb.shelf_life(lot, 0, 15, "es", "light")
    fc = predict_lot(shelf_dir, lot["lot"], gtin=lot["gtin"])
    worst = fc.worst
    text = _text(out)
    assert f"{fmt.number(worst.remaining_days_p50, 1)} días" in text
    assert f"Banda P10–P90: {fmt.number(worst.remaining_days_p10, 1)}–{fmt.number(worst.remaining_days_p90, 1)}" \
        in text
    assert ("En riesgo" in text) == worst.at_risk
    assert f"Vida mínima de mercado de Arándano: {fmt.number(worst.min_market_days, 1)} días" in text
    # the waterfall: nominal life, transit, heat, chilling, learned, then the P50 they add up to
    (fig,) = _figures(out)
    wf = fig.data[0]
    assert wf.type == "waterfall" and list(wf.measure) == ["absolute"] + ["relative"] * 4 + ["total"]
    assert list(wf.y[:-1]) == pytest.approx([d.days for d in worst.drivers])
    assert wf.y[-1] == pytest.approx(worst.remaining_days_p50)
    assert sum(wf.y[:-1]) == pytest.approx(worst.remaining_days_p50, abs=0.05)
    assert wf.x[0] == worst.drivers[0].label_es
    # public content: the buyer's name is never shown
    rendered = json.dumps(out, cls=PlotlyJSONEncoder)
    assert fc.shipments and all(s.buyer and s.buyer not in rendered for s in fc.shipments)


def test_whatif_lowers_the_p50_and_shows_the_change(cb, shelf_dir: Path) -> None:
    lot = _lot(shelf_dir, "avocado")
    base = predict_lot(shelf_dir, lot["lot"], gtin=lot["gtin"]).worst
    alt = predict_lot(shelf_dir, lot["lot"], gtin=lot["gtin"], extra_hours=12, at_temp_c=15).worst
    assert alt.remaining_days_p50 < base.remaining_days_p50
    text = _text(cb.shelf_life(lot, 12, 15, "en", "light"))
    change = alt.remaining_days_p50 - base.remaining_days_p50
    assert (f"If it waits 12 h at 15.0 °C before sailing: P50 {fmt.number(alt.remaining_days_p50, 1)} days "
            f"({change:+.1f} days)") in text
    assert f"{fmt.number(base.remaining_days_p50, 1)} days" in text  # the forecast as planned stays on top
    # hours 0: no what-if
    assert "If it waits" not in _text(cb.shelf_life(lot, 0, 15, "en", "light"))


def test_does_not_apply_to_a_lot_that_is_not_perishable(cb, shelf_dir: Path) -> None:
    text = _text(cb.shelf_life(_lot(shelf_dir, "coffee"), 12, 15, "en", "light"))
    assert text.startswith("Does not apply")
    assert all(p.name_en in text for p in PRODUCTS.values())
    assert "No aplica" in _text(cb.shelf_life(_lot(shelf_dir, "coffee"), 12, 15, "es", "light"))


def test_bad_whatif_inputs_are_named_and_the_forecast_still_shows(cb, shelf_dir: Path) -> None:
    lot = _lot(shelf_dir, "mango")
    p50 = fmt.number(predict_lot(shelf_dir, lot["lot"], gtin=lot["gtin"]).worst.remaining_days_p50, 1)
    for hours, temp, message in ((-3, 15, "Extra hours: a number between 0 and 720."),
                                 ("lots", 15, "Extra hours: a number between 0 and 720."),
                                 (12, None, "Enter the temperature of those hours."),
                                 (12, 99, "Temperature: a number between -5 and 45 °C."),
                                 (12, "nan", "Temperature: a number between -5 and 45 °C.")):
        text = _text(cb.shelf_life(lot, hours, temp, "en", "light"))
        assert message in text, (hours, temp)
        assert f"{p50} days" in text and "If it waits" not in text


def test_no_lot_and_no_model(cb, shelf_dir: Path, tmp_path: Path) -> None:
    assert "Open a perishable lot" in _text(cb.shelf_life(None, 12, 15, "en", "light"))
    assert "Open a perishable lot" in _text(cb.shelf_life({"gtin": "1", "lot": "NO-SUCH"}, 12, 15, "en", "light"))
    from web.runtime import configure
    from web.settings import Settings

    bare = tmp_path / "bare"
    shutil.copytree(shelf_dir, bare, ignore=shutil.ignore_patterns(".cache", "models"))
    configure(Settings(data_dir=bare, live=False, demo_feed=False, cache_dir=tmp_path / "cache"))
    assert "python app.py train" in _text(cb.shelf_life(_lot(bare, "grape"), 12, 15, "en", "light"))


def test_the_panel_is_public_page_content(tmp_path: Path) -> None:
    import diskcache
    from dash import DiskcacheManager

    import callbacks.traceability as mod
    from web.access import OutputOwner

    app = Dash(__name__, background_callback_manager=DiskcacheManager(diskcache.Cache(str(tmp_path / "bg"))))
    owners = mod.register(app)
    assert owners[ids.TRACE_SHELF] == OutputOwner(ids.PATH_TRACEABILITY)
    assert getattr(mod.shelf_life, "chasqui_memoized", False)  # cached by its inputs


def test_received_lot_shows_recorded_against_predicted_and_a_lot_at_sea_its_plan(cb, shelf_dir: Path) -> None:
    from analytics import storage
    from analytics.shelflife.predict import forecast_all

    quality = pl.read_parquet(storage.table_path(shelf_dir, "trace_quality"))
    fleet = forecast_all(shelf_dir)
    received = next(f for f in fleet.forecasts if f.worst.arrived)
    worst = received.worst
    rec = quality.filter(pl.col("shipment_id") == worst.lot).row(0, named=True)
    assert worst.recorded_remaining_days == pytest.approx(rec["remaining_days"])
    text = _text(cb.shelf_life({"gtin": received.gtin, "lot": received.lot}, 0, 15, "en", "light"))
    delta = worst.remaining_days_p50 - rec["remaining_days"]
    assert (f"Recorded at arrival: {fmt.number(rec['remaining_days'], 1)} days · grade {rec['grade']} "
            f"(forecast P50 {fmt.number(worst.remaining_days_p50, 1)} days, {delta:+.1f} days off)") in text
    assert "Reached the buyer" in text and "planned voyage" not in text
    # a lot with a shipment still at sea: its forecast as planned, nothing recorded for that shipment
    at_sea = next(f for f in fleet.forecasts if not all(s.arrived for s in f.shipments))
    text = _text(cb.shelf_life({"gtin": at_sea.gtin, "lot": at_sea.lot}, 0, 15, "en", "light"))
    if at_sea.worst.arrived:  # split: the table lists the shipment at sea as on its way
        assert "On its way" in text
    else:
        assert "planned voyage" in text and "Recorded at arrival" not in text
