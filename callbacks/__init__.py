"""Callbacks, one module per page. Importing this package registers them all with Dash."""

from callbacks import shell, overview, data  # noqa: F401
# page issues add their modules on the next line(s)
