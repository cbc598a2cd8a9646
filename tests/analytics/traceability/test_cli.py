"""The traceability commands as a user runs them (``web.cli.main``, the code behind ``python app.py``):
``import epcis`` (simple and unknown contexts, ``--strict-context``), ``epcis-hash`` against GS1's reference
hashes, ``verify-lot`` on a local log (exit 0 verified, 1 tampered, 2 unverifiable) and ``trust-witness``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from analytics import storage
from analytics.datadir import DataDir
from analytics.traceability import store
from analytics.traceability.demo_lots import generate
from analytics.traceability.verification import reason_class
from ledger_client import epcis
from ledger_client.log import MerkleLog
from tests.conftest import SHARED
from web.cli import main as cli

VECTORS = SHARED / "testdata" / "epcis-hash"
SIMPLE = "https://gs1.github.io/EPCIS/epcis-context-simple.jsonld"
FULL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
LGTIN = "urn:epc:class:lgtin:0614141.107346.LOT-S1"


def gs1_simple_example(context: object = (SIMPLE,), type_key: str = "type") -> dict:
    """A document written as GS1's simple-context examples are (short CBV values, EPC URNs)."""
    def t(name: str) -> dict:
        return {type_key: name}

    return {
        "@context": list(context) if isinstance(context, tuple) else context, **t("EPCISDocument"),
        "schemaVersion": "2.0", "creationDate": "2019-11-28T14:59:02.099+01:00",
        "epcisBody": {"eventList": [
            {**t("ObjectEvent"), "eventTime": "2019-11-28T13:00:00.000+01:00", "eventTimeZoneOffset": "+01:00",
             "action": "ADD", "bizStep": "commissioning", "disposition": "active",
             "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
             "quantityList": [{"epcClass": LGTIN, "quantity": 1200, "uom": "KGM"}]},
            {**t("ObjectEvent"), "eventTime": "2019-11-29T09:00:00.000+01:00", "eventTimeZoneOffset": "+01:00",
             "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
             "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
             "quantityList": [{"epcClass": LGTIN, "quantity": 1200, "uom": "KGM"}],
             "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}],
             "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00001"}]},
        ]},
    }


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, dict]:
    capsys.readouterr()
    code = cli(argv)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    return code, json.loads(lines[0])


def write(path: Path, doc: dict) -> str:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- epcis-hash


@pytest.mark.parametrize("name", ["epcisDocWithVariousEventTypes", "TimeStampRoundOff", "epcisDocWithAllGS1Keys",
                                  "epcisDocWithShippingAndTransportingEvent", "epcisDocWithSensorDataObjectEvent"])
def test_epcis_hash_prints_the_reference_hashes_and_prehashes(name: str, capsys) -> None:
    want = (VECTORS / f"{name}.hashes").read_text().split()
    pre = (VECTORS / f"{name}.prehashes").read_text().splitlines()
    assert cli(["epcis-hash", str(VECTORS / f"{name}.jsonld")]) == 0
    assert capsys.readouterr().out.splitlines() == want
    assert cli(["epcis-hash", str(VECTORS / f"{name}.jsonld"), "--prehash"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0::2] == want and [epcis.hash_prehash(p) for p in out[1::2]] == want
    # the reference's pre-hash strings, where its file is consistent with its own hashes (one line of
    # epcisDocWithAllGS1Keys.prehashes is garbled in the reference repository: it does not hash to its hash)
    consistent = [(i, p) for i, p in enumerate(pre) if epcis.hash_prehash(p) == want[i]]
    assert [out[1::2][i] for i, _ in consistent] == [p for _, p in consistent]
    assert len(consistent) == len(want) or name == "epcisDocWithAllGS1Keys"


def test_epcis_hash_refuses_bad_input_and_warns_on_unknown_context(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli(["epcis-hash", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    unknown = write(tmp_path / "u.json", gs1_simple_example(("https://example.org/our-context.jsonld",)))
    assert cli(["epcis-hash", unknown]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.split()) == 2 and "https://example.org/our-context.jsonld" in captured.err
    assert cli(["epcis-hash", unknown, "--strict-context"]) == 2
    assert "not available offline" in capsys.readouterr().err


# ---------------------------------------------------------------- import epcis


def test_simple_context_examples_import_and_verify(tmp_path: Path, capsys) -> None:
    d = tmp_path / "data"
    simple = write(tmp_path / "simple.jsonld", gs1_simple_example())
    code, out = run(["import", "epcis", simple, "--data-dir", str(d)], capsys)
    assert code == 0 and out["events"] == 2 and out["anchored"] == 2 and out["warnings"] == [], out
    # GS1's early simple-context examples write isA for type
    early = write(tmp_path / "early.jsonld", gs1_simple_example(type_key="isA"))
    code, out = run(["import", "epcis", early, "--data-dir", str(d)], capsys)
    assert code == 0 and out["events"] == 2 and out["ledger_size"] == 4 and out["duplicates_in_document"] == 0
    ev = store.load(d, store.EVENTS)
    assert ev["event_type"].to_list() == ["ObjectEvent"] * 4 and ev["biz_step"].to_list()[:2] == ["commissioning",
                                                                                                    "shipping"]
    # the same events in the full context hash the same; each stored document hashes back to its hash
    full = epcis.hash_document(gs1_simple_example((FULL,)))
    assert ev["event_hash"].to_list() == [*full.hashes, *full.hashes]
    for text, h in ev.select("document", "event_hash").rows():
        assert epcis.event_hashes(json.loads(text)) == [h]
    code, out = run(["verify-lot", "LOT-S1", "--data-dir", str(d)], capsys)
    assert code == 0 and out["verdict"] == "verified" and out["events"] == out["verified"] == 4


def test_unknown_context_imports_with_a_warning_and_strict_context_refuses(tmp_path: Path, capsys) -> None:
    d = tmp_path / "data"
    url = "https://example.org/partner-context.jsonld"
    f = write(tmp_path / "doc.jsonld", gs1_simple_example((url, FULL)))
    code, out = run(["import", "epcis", f, "--data-dir", str(d), "--strict-context"], capsys)
    assert code == 2 and out["events"] == 0 and url in out["error"] and "strict" in out["error"]
    assert store.load(d, store.EVENTS).height == 0 and not DataDir(d).ledger.exists()  # nothing stored
    code, out = run(["import", "epcis", f, "--data-dir", str(d)], capsys)
    assert code == 0 and out["events"] == 2 and len(out["warnings"]) == 1 and url in out["warnings"][0]
    # a term the standard vocabulary does not define cannot be resolved without that context: refused
    doc = gs1_simple_example((url,))
    doc["epcisBody"]["eventList"][0]["farmBlock"] = "B-7"
    code, out = run(["import", "epcis", write(tmp_path / "odd.jsonld", doc), "--data-dir", str(d)], capsys)
    assert code == 2 and "farmBlock" in out["error"]
    assert store.load(d, store.EVENTS).height == 2 and MerkleLog(DataDir(d).ledger, writable=False).size == 2


# ---------------------------------------------------------------- verify-lot on a local log


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lots")
    generate(d, 7)
    return d


def test_verify_lot_exit_codes_on_a_local_log(demo: Path, tmp_path: Path, capsys) -> None:
    d = tmp_path / "data"
    shutil.copytree(demo, d)
    argv = ["verify-lot", "PA-LAL-24001", "--data-dir", str(d)]
    code, ok = run(argv, capsys)
    assert code == 0 and ok["verdict"] == "verified" and ok["verified"] == ok["events"] >= 8
    assert reason_class(ok["verdict"], ok["reason"]) == "ok"

    code, out = run(["verify-lot", "NO-SUCH-LOT", "--data-dir", str(d)], capsys)
    assert code == 2 and out["verdict"] == "unverifiable" and "no such lot" in out["reason"] and out["events"] == 0

    ev = store.load(d, store.EVENTS)
    keys = ev.filter(pl.col("event_key").is_in(_keys(d, "PA-LAL-24001")))["event_key"].sort().to_list()
    unanchored = ev.with_columns(pl.when(pl.col("event_key") == keys[1]).then(None)
                                 .otherwise(pl.col("leaf_index")).alias("leaf_index"))
    storage.write_table(unanchored, d, store.EVENTS)
    code, out = run(argv, capsys)
    assert code == 2 and out["verdict"] == "unverifiable" and out["unanchored"] == [keys[1]]
    assert out["verified"] == ok["verified"] - 1 and reason_class(out["verdict"], out["reason"]) == "pending"

    doc = json.loads(ev.filter(pl.col("event_key") == keys[0])["document"][0])
    doc["epcisBody"]["eventList"][0]["readPoint"] = {"id": "urn:epc:id:sgln:7750321.99999.0"}
    storage.write_table(ev.with_columns(pl.when(pl.col("event_key") == keys[0]).then(pl.lit(json.dumps(doc)))
                                        .otherwise(pl.col("document")).alias("document")), d, store.EVENTS)
    code, out = run(argv, capsys)
    assert code == 1 and out["tampered"] == [keys[0]] and reason_class(out["verdict"], out["reason"]) == "events"

    shutil.rmtree(DataDir(d).ledger)  # the log is gone (the key stays pinned): cannot check, not tampered
    code, out = run(argv, capsys)
    assert code == 2 and out["verdict"] == "unverifiable" and out["tampered"] == []
    assert reason_class(out["verdict"], out["reason"]) == "unreachable"

    assert cli([*argv, "--min-witnesses", "-1"]) == 2
    code, out = run([*argv, "--min-witnesses", "1"], capsys)
    assert code == 2 and reason_class(out["verdict"], out["reason"]) == "witnesses"


def _keys(data_dir: Path, lot: str) -> list[str]:
    from analytics.traceability.lots import lookup, lot_event_keys

    ref = lookup(data_dir, lot)[0]
    return lot_event_keys(data_dir, ref.gtin, ref.lot)


def test_trust_witness_refuses_what_is_not_a_witness_key(demo: Path, tmp_path: Path, capsys) -> None:
    d = tmp_path / "data"
    shutil.copytree(demo, d)
    not_a_key = tmp_path / "key.pub"
    not_a_key.write_text((DataDir(d).ledger_public_key).read_text())  # a log key is not a witness key
    assert cli(["trust-witness", str(not_a_key), "--data-dir", str(d)]) == 2
    assert "no witness key" in capsys.readouterr().err
    assert cli(["trust-witness", str(tmp_path / "missing.pub"), "--data-dir", str(d)]) == 2
    assert MerkleLog(DataDir(d).ledger, writable=False).trusted_witnesses() == []
