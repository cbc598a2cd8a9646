"""Demand and stock: weekly demand forecasts with P10/P50/P90 per DC x category, their backtest, safety
stock and reorder points per DC x category from the forecast errors and the DCs' lead times, and
what a scenario does to those lead times.

Modules (what the command line, the page and the model card call):

- :mod:`analytics.demand.weekly` — weekly units per series, one narwhals query for Polars and Spark.
- :mod:`analytics.demand.weekly_forecast` — :func:`weekly_forecast` (backtest, choose, fit,
  reconcile) returning a :class:`DemandForecast`; :func:`model_card_section`.
- :mod:`analytics.demand.forecast` — the models (global gradient boosting, seasonal naive,
  ETS/Croston) and band calibration; :mod:`analytics.demand.features` their features;
  :mod:`analytics.demand.calendar` retail peaks, rainy season, disruption episodes;
  :mod:`analytics.demand.reconcile` DC figures that add up to the national one.
- :mod:`analytics.demand.backtest` — rolling-origin evaluation on the six months before the as-of date.
- :mod:`analytics.demand.leadtime` — lead-time distributions per DC (delivery-days model, or the
  empirical fallback) and :func:`scenario_lead_times`.
- :mod:`analytics.demand.stock` — reorder points, safety stock, days of cover, on-hand CSV import.
- :mod:`analytics.demand.cli` — ``python app.py forecast`` and ``python app.py stock``.
"""
