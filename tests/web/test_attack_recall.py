"""The public lot lookup (consumers scan a QR code) shows product, origin, journey and verification; the recall
(customers and what each received, pallets, shipments and their documents) only to the roles that may see it.

Reproduces the attack: with sign-in on, an anonymous POST of the lookup callback returned the whole recall view.
"""

from __future__ import annotations

import pytest

from analytics.traceability.lots import lookup
from analytics.traceability.mock_recall import recall
from components import ids
from tests.fixtures.web import basic

LOT = "AR-LAL-24001"


def _lookup_body(app, lot: str) -> dict:
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if ids.TRACE_LOT + ".data" in d["output"])
    values = {ids.TRACE_SEARCH: 1, ids.TRACE_QUERY: lot, ids.LANG_STORE: "en", ids.THEME_STORE: "light",
              ids.TRACE_GTIN: None}
    return {"output": dep["output"], "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]}
                                                 for o in dep["output"].strip(".").split("...")],
            "inputs": [{**i, "value": values[i["id"]]} for i in dep["inputs"]],
            "state": [{**s, "value": values[s["id"]]} for s in dep["state"]],
            "changedPropIds": [f"{ids.TRACE_QUERY}.value"]}


@pytest.fixture(scope="module")
def recall_secrets(settings) -> dict[str, list[str]]:
    """What the recall of LOT reveals: customers (by name), pallet SSCCs, shipment documents."""
    ref = lookup(settings.data_dir, LOT)[0]
    rc = recall(settings.data_dir, ref.gtin, ref.lot)
    fwd = rc["forward"]
    out = {"customers": [c["name"] or c["gln"] for c in fwd["customers"]],
           "pallets": [p["sscc"] for p in fwd["pallets"]],
           "documents": [d.rsplit(":", 1)[-1] for s in fwd["shipments"] for d in s["documents"]]}
    assert all(out.values()), out  # the lot really has customers, pallets and documents to leak
    return out


def _leaks(text: str, secrets: dict[str, list[str]]) -> dict[str, list[str]]:
    return {kind: [v for v in values if v in text] for kind, values in secrets.items()
            if any(v in text for v in values)}


def test_anonymous_lookup_shows_no_recall_customers_pallets_or_documents(auth_app, recall_secrets):
    c = auth_app.server.test_client()
    r = c.post("/_dash-update-component", json=_lookup_body(auth_app, LOT))
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert _leaks(text, recall_secrets) == {}
    assert " kg" not in text  # no quantity: neither the lot's nor what a customer received
    # what a consumer may see is still there: product, origin, journey, verification, the recall's place
    out = r.get_json()["response"]
    assert "Blueberries" in str(out[ids.TRACE_SUMMARY]) and "Chavimochic" in str(out[ids.TRACE_SUMMARY])
    assert "Callao" in str(out[ids.TRACE_TIMELINE]) and "verified" in str(out[ids.TRACE_VERDICT]).lower()
    assert "sign in" in str(out[ids.TRACE_RECALL])


@pytest.mark.parametrize("user, full", [("tito", True), ("ana", True), ("luis", False)])
def test_signed_in_roles_see_the_recall_only_with_the_right_role(auth_app, recall_secrets, user, full):
    c = auth_app.server.test_client()
    r = c.post("/_dash-update-component", json=_lookup_body(auth_app, LOT), headers=basic(user))
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    if full:  # traceability-admin and executive: the whole recall, every customer, pallet and document
        assert _leaks(text, recall_secrets) == recall_secrets
        assert ids.TRACE_RECALL in r.get_json()["response"]
    else:  # logistics may open the page, not the recall
        assert _leaks(text, recall_secrets) == {}


def test_without_sign_in_everyone_sees_the_recall(open_app, recall_secrets):
    r = open_app.server.test_client().post("/_dash-update-component", json=_lookup_body(open_app, LOT))
    assert _leaks(r.get_data(as_text=True), recall_secrets) == recall_secrets
