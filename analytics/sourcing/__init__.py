"""Sustainable, ethical sourcing for a Lima fine-dining kitchen.

Submodules: ``ingredients`` (real ingredients, origins, vocabularies, emission factors),
``demo_suppliers`` (demo suppliers), ``schemas`` (table schemas), ``sustainability`` (transparent score,
CO2e), ``ranking`` (weighted ranking, Pareto front, menu mode), ``model`` (Keras score model; TensorFlow
is imported only inside its train/load functions), ``shortlist`` (what the callbacks call: ranked
shortlists, CSV, menu plans).
Importing this package is cheap: it imports no submodule.
"""
