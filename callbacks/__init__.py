# ruff: noqa: I001
"""Callbacks, one module per page. Importing this package registers them all with Dash."""

from callbacks import data, overview, shell  # noqa: F401
# page issues add their modules on the next line(s)
from callbacks import sourcing  # noqa: E402,F401
from callbacks import traceability  # noqa: E402,F401
from callbacks import scenarios  # noqa: E402,F401
from callbacks import segments  # noqa: E402,F401
from callbacks import logistics  # noqa: E402,F401
from callbacks import live  # noqa: E402,F401
