"""Shelf life at arrival of perishable agro lots: kinetics, ground truth, features, models, forecasts.

Modules: ``kinetics`` (the documented Q10 model per product and its sources), ``histories`` (lot
temperature histories from harvest to the buyer), ``truth`` (remaining life and grade at arrival),
``features``, ``model`` (Keras quantile net vs gradient boosting vs physics; trainer; persistence)
``predict`` (forecasts, what-ifs, drivers, the ``shelf-life`` command) and ``arrivals`` (the demo
shipments' quality at arrival, table ``trace_quality``, from the traceability tables). Importing this package
never imports TensorFlow.
"""

from __future__ import annotations

from analytics.shelflife.kinetics import PRODUCTS, UnknownProduct
from analytics.shelflife.model import load_model, train
from analytics.shelflife.predict import (
    FleetForecast,
    LotForecast,
    ShelfLifeInputError,
    ShipmentForecast,
    cli,
    forecast_all,
    predict_lot,
    shelf_life_command,
)

__all__ = [
    "PRODUCTS", "FleetForecast", "LotForecast", "ShelfLifeInputError", "ShipmentForecast", "UnknownProduct", "cli",
    "forecast_all", "load_model", "predict_lot", "shelf_life_command", "train",
]
