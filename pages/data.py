"""Data: every dataset (rows, date range, schema, quarantine) and every trained model."""

import dash

from components import datasets, ids

dash.register_page(__name__, path=ids.PATH_DATA, name="Data", order=90)


def layout(**_ignored: object):
    return datasets.layout()
