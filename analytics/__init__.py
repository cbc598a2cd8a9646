"""Chasqui analytics layer: data, engines, queries, models. Never imports Dash."""
