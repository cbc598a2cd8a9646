"""Sustainable, ethical sourcing for a Lima fine-dining kitchen (issue 8).

Submodules: ``catalog`` (real ingredients, origins, vocabularies, emission factors), ``generate``
(demo suppliers), ``schemas`` (table schemas), ``scoring`` (transparent score, CO2e), ``ranking``
(weighted ranking, Pareto front, menu mode), ``model`` (Keras score model; TensorFlow is imported
only inside its train/load functions), ``service`` (what the callbacks call).
Importing this package is cheap: it imports no submodule.
"""
