"""Traceability analytics: generated journeys, import CLI, tamper detection, recall and FSMA 204 export."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from analytics import storage
from analytics.datadir import DataDir
from analytics.traceability import epcis_import, exports, lots, mock_recall, store, verification
from analytics.traceability.demo_lots import generate
from ledger_client import epcis, gs1
from ledger_client.log import MerkleLog
from tests.conftest import SHARED

P = "7750321"
F1, F2, PLANT = gs1.gln(P, "90001"), gs1.gln(P, "90002"), gs1.gln(P, "90003")
C1, C2 = "8712345000018", "0614141000418"
GTIN_RAW = gs1.gtin14(P, "09001")
GTIN_OUT = gs1.gtin14(P, "09002")
PAL1, PAL2 = gs1.sscc(P, "800000001"), gs1.sscc(P, "800000002")
CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def _lot(gtin: str, lot: str) -> str:
    return f"https://id.gs1.org/01/{gtin}/10/{lot}"


def hand_built_document() -> dict:
    """Two farm lots merged into one (transformation), then split onto two pallets for two customers."""
    def ev(t, **kw):
        return {"type": "ObjectEvent", "eventTime": t, "eventTimeZoneOffset": "-05:00", **kw}
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2024-05-01T00:00:00Z", "epcisBody": {"eventList": [
                ev("2024-05-01T08:00:00-05:00", action="ADD", bizStep="commissioning",
                   readPoint={"id": f"urn:epc:id:sgln:{P}.90001.0"},
                   quantityList=[{"epcClass": f"urn:epc:class:lgtin:{P}.009001.LOT-A", "quantity": 1000, "uom": "KGM"}],
                   ilmd={"cbvmda:countryOfOrigin": "PE"}),
                ev("2024-05-01T09:00:00-05:00", action="ADD", bizStep="commissioning",
                   readPoint={"id": f"https://id.gs1.org/414/{F2}"},
                   quantityList=[{"epcClass": _lot(GTIN_RAW, "LOT-B"), "quantity": 0.6, "uom": "TNE"}]),
                {"type": "TransformationEvent", "eventTime": "2024-05-03T10:00:00-05:00", "eventTimeZoneOffset": "-05:00",
                 "bizStep": "commissioning", "readPoint": {"id": f"https://id.gs1.org/414/{PLANT}"},
                 "inputQuantityList": [{"epcClass": _lot(GTIN_RAW, "LOT-A"), "quantity": 1000, "uom": "KGM"},
                                       {"epcClass": _lot(GTIN_RAW, "LOT-B"), "quantity": 600, "uom": "KGM"}],
                 "outputQuantityList": [{"epcClass": _lot(GTIN_OUT, "MIX-1"), "quantity": 1500, "uom": "KGM"}]},
                {"type": "AggregationEvent", "eventTime": "2024-05-03T12:00:00-05:00", "eventTimeZoneOffset": "-05:00",
                 "action": "ADD", "bizStep": "packing", "readPoint": {"id": f"https://id.gs1.org/414/{PLANT}"},
                 "parentID": f"https://id.gs1.org/00/{PAL1}",
                 "childQuantityList": [{"epcClass": _lot(GTIN_OUT, "MIX-1"), "quantity": 900, "uom": "KGM"}]},
                {"type": "AggregationEvent", "eventTime": "2024-05-03T12:05:00-05:00", "eventTimeZoneOffset": "-05:00",
                 "action": "ADD", "bizStep": "packing", "readPoint": {"id": f"https://id.gs1.org/414/{PLANT}"},
                 "parentID": f"urn:epc:id:sscc:{P}.{PAL2[0]}{PAL2[8:17]}",
                 "childQuantityList": [{"epcClass": _lot(GTIN_OUT, "MIX-1"), "quantity": 600, "uom": "KGM"}]},
                ev("2024-05-05T10:00:00-05:00", action="OBSERVE", bizStep="loading",
                   readPoint={"id": f"https://id.gs1.org/414/{PLANT}"}, epcList=[f"https://id.gs1.org/00/{PAL1}"],
                   bizTransactionList=[{"type": "bol", "bizTransaction": "urn:epcglobal:cbv:bt:7750321000000:BL-1"}],
                   destinationList=[{"type": "owning_party", "destination": f"https://id.gs1.org/417/{C1}"}]),
                ev("2024-05-06T10:00:00-05:00", action="OBSERVE", bizStep="loading",
                   readPoint={"id": f"https://id.gs1.org/414/{PLANT}"}, epcList=[f"https://id.gs1.org/00/{PAL2}"],
                   bizTransactionList=[{"type": "bol", "bizTransaction": "urn:epcglobal:cbv:bt:7750321000000:BL-2"}],
                   destinationList=[{"type": "owning_party", "destination": f"https://id.gs1.org/417/{C2}"}]),
            ]}}


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("trace")
    counts = generate(d, 7)
    assert counts["trace_events"] > 1000 and counts["trace_lots"] > 100
    return d


@pytest.fixture()
def hand_dir(tmp_path: Path) -> Path:
    f = tmp_path / "doc.jsonld"
    f.write_text(json.dumps(hand_built_document()))
    d = tmp_path / "data"
    report = epcis_import.import_epcis(f, d)
    assert report["events"] == 7 and report["anchored"] == 7 and report["ledger_size"] == 7
    return d


def test_generated_data_is_schema_valid_and_fully_anchored(gen_dir: Path) -> None:
    for name in ("trace_events", "trace_items", "trace_lots"):
        res = storage.load_table(gen_dir, name)
        assert res.quarantined == 0 and res.rows_read > 0
    ev = store.load(gen_dir, store.EVENTS)
    assert ev["leaf_index"].null_count() == 0
    assert sorted(ev["leaf_index"].to_list()) == list(range(ev.height))
    with MerkleLog(DataDir(gen_dir).ledger, writable=False) as log:
        assert log.size == ev.height
    master = lots.list_lots(gen_dir)
    assert set(master["crop"]) == {"blueberry", "avocado", "grape", "asparagus", "mango", "coffee", "cacao", "quinoa"}
    assert master["gtin"].str.starts_with("0775").all()
    assert all(gs1.is_valid_check_digit(g) for g in master["gtin"]) and all(gs1.is_valid_check_digit(g) for g in master["site_gln"])
    docs = [store.event_of(d) for d in ev["document"]]
    assert sum(1 for d in docs if d.get("sensorElementList")) > 50
    assert {d["type"] for d in docs} == {"ObjectEvent", "AggregationEvent", "TransformationEvent"}
    # each stored document is a one-event document that hashes to the anchored hash on its own
    for text, h in ev.select("document", "event_hash").rows()[::97]:
        assert epcis.event_hashes(json.loads(text)) == [h]


def test_lookup_by_lot_gtin_sscc_and_digital_link(gen_dir: Path) -> None:
    ref = lots.lookup(gen_dir, "AR-LAL-24001")[0]
    assert (ref.lot, ref.via) == ("AR-LAL-24001", "lot")
    assert lots.lookup(gen_dir, "ar-lal-24001", gtin=ref.gtin)[0].via == "gtin+lot"
    dl = lots.lookup(gen_dir, f"https://qr.chasqui.pe/01/{ref.gtin}/10/AR-LAL-24001?src=label")[0]
    assert (dl.gtin, dl.lot, dl.via) == (ref.gtin, "AR-LAL-24001", "digital_link")
    pallet = mock_recall.recall(gen_dir, ref.gtin, ref.lot)["forward"]["pallets"][0]["sscc"]
    assert lots.lookup(gen_dir, pallet)[0].lot == "AR-LAL-24001"
    assert lots.lookup(gen_dir, f"https://id.gs1.org/00/{pallet}")[0].via == "sscc"
    for bad in ("NOPE-1", "", "<img src=x onerror=alert(1)>", "https://example.com/nothing"):
        with pytest.raises(lots.LotNotFound):
            lots.lookup(gen_dir, bad)


def test_generated_lot_verifies_and_tampering_marks_only_that_event(gen_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(gen_dir, d)
    ref = lots.lookup(d, "AR-LAL-24001")[0]
    ok = verification.verify_lot(d, ref.gtin, ref.lot)
    assert ok.verdict == "verified" and ok.counts["verified"] == len(ok.events) >= 10
    # alter one stored event (the harvest quantity) behind the ledger's back
    ev = store.load(d, store.EVENTS)
    target = ok.events[0]["event_key"]
    doc = json.loads(ev.filter(pl.col("event_key") == target)["document"][0])
    doc["epcisBody"]["eventList"][0]["quantityList"][0]["quantity"] += 500
    ev = ev.with_columns(pl.when(pl.col("event_key") == target).then(pl.lit(json.dumps(doc)))
                         .otherwise(pl.col("document")).alias("document"))
    storage.write_table(ev, d, store.EVENTS)
    bad = verification.verify_lot(d, ref.gtin, ref.lot)
    assert bad.verdict == "tampered"
    statuses = {e["event_key"]: e["status"] for e in bad.events}
    assert statuses[target] == "tampered"
    assert [k for k, s in statuses.items() if s != "verified"] == [target]
    assert bad.tampered == [target] and bad.exit_code == 1 and bad.why == "events"


def test_rewritten_ledger_is_caught_by_the_remembered_checkpoint(gen_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(gen_dir, d)
    ref = lots.lookup(d, "PA-LAL-24001")[0]
    assert verification.verify_lot(d, ref.gtin, ref.lot).verdict == "verified"   # pins key, remembers checkpoint
    led = DataDir(d).ledger
    n = MerkleLog(led, writable=False).size
    signer_text = (led / "signer.key").read_text()
    shutil.rmtree(led)   # the operator rebuilds a shorter history with the same key
    from ledger_client.checkpoint import Signer
    log = MerkleLog(led, signer=Signer.from_string(signer_text))
    log.append_digests([b"\x00" * 32] * (n // 2))
    v = verification.verify_lot(d, ref.gtin, ref.lot)
    assert v.verdict == "tampered" and "truncated" in v.reason and v.why == "rewritten"


def test_recall_on_hand_built_merge_and_split(hand_dir: Path) -> None:
    rc = mock_recall.recall(hand_dir, GTIN_OUT, "MIX-1")
    assert sorted((x["lot"], x["quantity_kg"]) for x in rc["back"]["lots"]) == [("LOT-A", 1000.0), ("LOT-B", 600.0)]
    assert sorted(s["gln"] for s in rc["back"]["suppliers"]) == sorted([F1, F2])
    assert sorted((p["sscc"], p["quantity_kg"]) for p in rc["forward"]["pallets"]) == [(PAL1, 900.0), (PAL2, 600.0)]
    assert sorted((c["gln"], c["quantity_kg"]) for c in rc["forward"]["customers"]) == sorted([(C1, 900.0), (C2, 600.0)])
    assert sorted(d for s in rc["forward"]["shipments"] for d in s["documents"]) == [
        "urn:epcglobal:cbv:bt:7750321000000:BL-1", "urn:epcglobal:cbv:bt:7750321000000:BL-2"]
    assert rc["forward"]["lots"] == []
    assert rc["balance"] == {"in_kg": 1500.0, "out_kg": 1500.0, "difference_kg": 0.0, "difference_pct": 0.0,
                             "balanced": True}
    # one input lot: its forward step is the merged lot; 0.6 t was converted to 600 kg
    rb = mock_recall.recall(hand_dir, GTIN_RAW, "LOT-B")
    assert [(x["lot"], x["quantity_kg"]) for x in rb["forward"]["lots"]] == [("MIX-1", 1500.0)]
    assert rb["balance"]["in_kg"] == 600.0 and rb["balance"]["out_kg"] == 600.0 and rb["balance"]["balanced"]
    assert [s["gln"] for s in rb["back"]["suppliers"]] == [F2]
    rows = list(csv.DictReader(io.StringIO(exports.rows_to_csv(exports.recall_rows(rc)))))
    assert sum(1 for r in rows if r["kind"] == "customer") == 2
    assert verification.verify_lot(hand_dir, GTIN_OUT, "MIX-1").counts == {"verified": 5, "tampered": 0, "unanchored": 0,
                                                                              "unchecked": 0}


def test_fsma204_export_csv_and_xlsx(hand_dir: Path) -> None:
    rows = exports.fsma204_rows(hand_dir, GTIN_OUT, "MIX-1")
    assert [r["Critical Tracking Event"] for r in rows] == ["Transformation", "Initial Packing", "Initial Packing",
                                                            "Shipping", "Shipping"]
    assert [r["Quantity"] for r in rows[:3]] == [1500.0, 900.0, 600.0]
    parsed = list(csv.DictReader(io.StringIO(exports.write_fsma204(rows, "csv").decode())))
    assert list(parsed[0].keys()) == exports.FSMA_COLUMNS and len(parsed) == 5
    assert parsed[3]["Reference Document Number"] == "urn:epcglobal:cbv:bt:7750321000000:BL-1"
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(exports.write_fsma204(rows, "xlsx")))
    ws = wb.active
    assert [c.value for c in ws[1]] == exports.FSMA_COLUMNS and ws.max_row == 6 and ws.auto_filter.ref


def test_cli_import_prints_one_json_line_and_refuses_invalid(tmp_path: Path, capsys) -> None:
    good = tmp_path / "doc.json"
    good.write_text(json.dumps(hand_built_document()))
    d = tmp_path / "data"
    assert epcis_import.cli_import(argparse.Namespace(file=good, data_dir=d)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and json.loads(out[0])["events"] == 7
    bad = tmp_path / "bad.json"
    doc = hand_built_document()
    doc["epcisBody"]["eventList"].append({"type": "ObjectEvent", "action": "ADD"})  # no eventTime
    bad.write_text(json.dumps(doc))
    assert epcis_import.cli_import(argparse.Namespace(file=bad, data_dir=d)) == 2
    res = json.loads(capsys.readouterr().out.strip())
    assert res["events"] == 0 and "eventTime" in res["error"]
    assert store.load(d, store.EVENTS).height == 7          # nothing of the invalid document was stored
    assert MerkleLog(DataDir(d).ledger, writable=False).size == 7
    # the reference examples import with every event counted
    ex = SHARED / "testdata" / "epcis-hash" / "epcisDocWithVariousEventTypes.jsonld"
    assert epcis_import.cli_import(argparse.Namespace(file=ex, data_dir=d)) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 13
    assert store.load(d, store.EVENTS).height == 20


def test_tables_read_again_only_when_rewritten(tmp_path):
    """The lot pages read the events and items tables several times per lot: kept in memory while the file is
    unchanged, read again as soon as it is written anew (events appended)."""
    from analytics.traceability import store

    storage.write_table(pl.DataFrame({"event_key": ["e1"], "n": [1]}), tmp_path, "trace_demo_read")
    first = store.load(tmp_path, "trace_demo_read")
    assert store.load(tmp_path, "trace_demo_read") is first
    storage.write_table(pl.DataFrame({"event_key": ["e1", "e2"], "n": [1, 2]}), tmp_path, "trace_demo_read")
    again = store.load(tmp_path, "trace_demo_read")
    assert again["event_key"].to_list() == ["e1", "e2"]
    other = tmp_path / "other"
    storage.write_table(pl.DataFrame({"event_key": ["x"], "n": [9]}), other, "trace_demo_read")
    assert store.load(other, "trace_demo_read")["event_key"].to_list() == ["x"]  # same name, another folder
    assert store.load(tmp_path, "trace_demo_read") is again
