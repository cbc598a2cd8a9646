"""The demo journeys' reefer voyages: departure, arrival abroad and receipt at the buyer after port loading, the
voyage logger's readings, the persisted world seed and ``trace_quality`` (the truth at arrival re-derived from the
tables' own readings)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics import storage
from analytics.datadir import DataDir
from analytics.shelflife.histories import PHASE_CODE, SEA_DAYS
from analytics.shelflife.kinetics import PRODUCTS, grade
from analytics.shelflife.truth import arrival_quality, draw_world
from analytics.traceability import lots, mock_recall, store, verification
from analytics.traceability.agro_chains import BUYER_PORT, CROPS, DEST_PORTS
from analytics.traceability.demo_lots import AS_OF, VOYAGE_READING_HOURS, generate
from ledger_client import epcis
from ledger_client.log import MerkleLog

SEED = 7


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("voyages")
    counts = generate(d, SEED)
    assert counts["trace_quality"] == storage.load_table(d, "trace_quality").rows_read
    return d


def _events(d: Path) -> list[dict]:
    ev = store.load(d, store.EVENTS).sort("seq")
    return [{**row, "ev": store.event_of(row["document"])} for row in ev.iter_rows(named=True)]


def _bl(e: dict) -> str | None:
    docs = [b["bizTransaction"] for b in e["ev"].get("bizTransactionList") or [] if b.get("type") == "bol"]
    return docs[0] if docs else None


def _shipments(d: Path) -> dict[str, dict[str, dict]]:
    """Bill of lading -> {biz_step: event row} of the loading and voyage events."""
    out: dict[str, dict[str, dict]] = {}
    for e in _events(d):
        bl = _bl(e)
        if bl is not None:
            assert e["biz_step"] not in out.setdefault(bl, {}), f"two {e['biz_step']} events for {bl}"
            out[bl][e["biz_step"]] = e
    return out


def test_every_loaded_shipment_sails_and_arrives_after_port_loading(gen_dir: Path) -> None:
    ships = _shipments(gen_dir)
    loaded = [s for s in ships.values() if "loading" in s]
    assert len(loaded) == len(ships) > 100  # every B/L starts with a loading event
    counts = {k: sum(k in s for s in loaded) for k in ("departing", "arriving", "receiving")}
    # each step needs the one before it, and only what happened by the demo's as-of time is recorded
    assert len(loaded) >= counts["departing"] >= counts["arriving"] >= counts["receiving"] > 0.8 * len(loaded)
    assert counts["receiving"] < len(loaded)  # some shipments are still at sea at the as-of time
    for s in loaded:
        load = s["loading"]
        buyer = load["ev"]["destinationList"][0]["destination"].rsplit("/", 1)[1]
        port = BUYER_PORT[buyer]
        steps = [load] + [s[k] for k in ("departing", "arriving", "receiving") if k in s]
        times = [x["event_time"] for x in steps]
        assert times == sorted(times) and times[-1] <= AS_OF
        assert all(set(x["ev"]["epcList"]) == set(load["ev"]["epcList"]) for x in steps)  # the same pallets
        if "departing" in s:
            assert s["departing"]["read_point"] == load["read_point"]  # sails from the terminal it was loaded at
        if "arriving" in s:
            assert s["arriving"]["read_point"].endswith(DEST_PORTS[port][2])
            origin = "PEPAI" if "50002" in load["read_point"] else "PECLL"
            lo, hi = SEA_DAYS[(origin, port)]
            sea = (s["arriving"]["event_time"] - s["departing"]["event_time"]).total_seconds() / 86400
            assert lo <= sea <= hi
        else:
            assert "receiving" not in s
        if "receiving" in s:
            assert s["receiving"]["read_point"].endswith(buyer)
            assert s["receiving"]["ev"]["disposition"].endswith("in_progress")
        if "departing" not in s:
            assert "arriving" not in s


def test_voyage_logger_readings_cover_the_voyage(gen_dir: Path) -> None:
    n_logged = 0
    for s in _shipments(gen_dir).values():
        if "arriving" not in s:
            continue
        ev = s["arriving"]["ev"]
        crop = CROPS[_crop_of(gen_dir, s["loading"])]
        if not crop.perishable:
            assert "sensorElementList" not in ev
            continue
        times = [datetime.fromisoformat(x["sensorMetadata"]["time"]) for x in ev["sensorElementList"]]
        start, end = s["departing"]["event_time"], s["arriving"]["event_time"]
        assert times[0] == start and times[-1] <= end
        gaps = np.diff([t.timestamp() for t in times]) / 3600
        assert gaps.max() <= VOYAGE_READING_HOURS + 0.01
        n_logged += 1
    assert n_logged > 40


def _crop_of(d: Path, load: dict) -> str:
    items = store.load(d, store.ITEMS)
    sscc = items.filter(pl.col("event_key") == load["event_key"]).drop_nulls("sscc")["sscc"][0]
    lot = items.filter((pl.col("sscc") == sscc) & (pl.col("role") == "packed"))["lot"][0]
    return lots.list_lots(d).filter(pl.col("lot_code") == lot)["crop"][0]


def test_tables_stay_valid_anchored_and_verifiable(gen_dir: Path) -> None:
    for name in ("trace_events", "trace_items", "trace_lots", "trace_quality"):
        res = storage.load_table(gen_dir, name)
        assert res.quarantined == 0 and res.rows_read > 0
    ev = store.load(gen_dir, store.EVENTS)
    with MerkleLog(DataDir(gen_dir).ledger, writable=False) as log:
        assert log.size == ev.height
    for text, h in ev.filter(pl.col("biz_step").is_in(["departing", "arriving", "receiving"])).select(
            "document", "event_hash").rows()[::23]:
        assert epcis.event_hashes(json.loads(text)) == [h]
    q = pl.read_parquet(storage.table_path(gen_dir, "trace_quality"))
    code, gtin = q.row(0, named=True)["lot_code"], q.row(0, named=True)["gtin"]
    res = verification.verify_lot(gen_dir, gtin, code)
    assert res.verdict == "verified"
    rc = mock_recall.recall(gen_dir, gtin, code)
    assert rc["balance"]["balanced"]
    # the departures are listed as shipments (terminal -> port abroad); the customers' kilos are not counted twice
    pallets_kg = sum(p["quantity_kg"] for p in rc["forward"]["pallets"])
    assert sum(c["quantity_kg"] for c in rc["forward"]["customers"]) == pytest.approx(pallets_kg)
    assert any(s["biz_step"] == "departing" for s in rc["forward"]["shipments"])


def test_world_seed_is_kept_and_quality_counts_add_up(gen_dir: Path) -> None:
    world = json.loads(DataDir(gen_dir).trace_world.read_text())
    assert world == {"generator_seed": SEED, "world_seed": SEED, "as_of": AS_OF.isoformat()}
    q = pl.read_parquet(storage.table_path(gen_dir, "trace_quality"))
    ships = _shipments(gen_dir)
    perishable_received = 0
    for s in ships.values():
        if "receiving" in s and _crop_of(gen_dir, s["loading"]) in PRODUCTS:
            perishable_received += 1
    assert q.height == perishable_received
    assert q["shipment_id"].n_unique() == q.height and (q["world_seed"] == SEED).all()
    assert set(q["product"]) == set(PRODUCTS)
    for key in PRODUCTS:
        sub = q.filter(pl.col("product") == key)
        assert sub["grade"].to_list() == grade(key, sub["remaining_days"].to_numpy()).tolist()
    assert (q["arrival_time"] <= AS_OF).all() and (q["departure_time"] < q["arrival_time"]).all()
    assert ((q["shelf_life_at_harvest_days"] - q["consumed_days"]).clip(0, None) - q["remaining_days"]).abs().max() < 6


def test_quality_matches_the_truth_recomputed_from_the_tables_readings(gen_dir: Path) -> None:
    """Rebuild each received shipment's history from the stored events (not through the shelf-life code that wrote
    the table) and run the truth model on it: the table's figures come back exactly."""
    q = pl.read_parquet(storage.table_path(gen_dir, "trace_quality")).sort("shipment_id")
    ships = _shipments(gen_dir)
    lot_rows, readings = [], []
    for row in q.iter_rows(named=True):
        view = lots.lot_view(gen_dir, row["gtin"], row["lot_code"])
        harvest = next(t["time"] for t in view.timeline if t["cte"] == "Harvesting")
        mine = next(s for s in ships.values() if "receiving" in s and
                    abs((s["receiving"]["event_time"] - row["arrival_time"]).total_seconds()) < 1 and
                    s["loading"]["event_key"] in {t["event_key"] for t in view.timeline})
        own_keys = {x["event_key"] for x in mine.values()}
        other_keys = {x["event_key"] for s in ships.values() if s is not mine for x in s.values()}
        phase = {mine["arriving"]["event_key"]: PHASE_CODE["voyage"],
                 mine["receiving"]["event_key"]: PHASE_CODE["destination"]}
        n = 0
        for r in view.readings:
            if r["event_key"] in other_keys and r["event_key"] not in own_keys:
                continue
            readings.append({"lot_id": row["shipment_id"], "hours": (r["time"] - harvest).total_seconds() / 3600,
                             "temp_c": r["temp_c"], "phase": phase.get(r["event_key"], PHASE_CODE["port"])})
            n += 1
        assert n == row["readings"]
        transit = (mine["receiving"]["event_time"] - harvest).total_seconds() / 3600
        lot_rows.append({"lot_id": row["shipment_id"], "product": row["product"], "transit_hours": transit,
                         "harvest_month": harvest.month, "harvest_day": harvest.day, "ca": row["ca"]})
    lots_df = pl.DataFrame(lot_rows)
    r_df = pl.DataFrame(readings, schema={"lot_id": pl.String, "hours": pl.Float64, "temp_c": pl.Float64,
                                          "phase": pl.Int8})
    truth = arrival_quality(lots_df, r_df, draw_world(SEED), seed=SEED)
    np.testing.assert_allclose(truth["remaining_days"].to_numpy(), q["remaining_days"].to_numpy(), atol=1e-6)
    assert truth["grade"].to_list() == q["grade"].to_list()
    np.testing.assert_allclose(truth["consumed_days"].to_numpy(), q["consumed_days"].to_numpy(), atol=1e-6)
    # another world gives other figures: the table depends on the kept seed
    other = arrival_quality(lots_df, r_df, draw_world(SEED + 1), seed=SEED + 1)
    assert np.abs(other["remaining_days"].to_numpy() - q["remaining_days"].to_numpy()).mean() > 0.5


def test_journey_map_stays_in_peru_and_buyers_are_places_abroad(gen_dir: Path) -> None:
    q = pl.read_parquet(storage.table_path(gen_dir, "trace_quality"))
    row = q.row(0, named=True)
    view = lots.lot_view(gen_dir, row["gtin"], row["lot_code"])
    assert all(-19 < p["lat"] < 0 and -82 < p["lon"] < -68 for p in view.path)
    steps = {t["biz_step"]: t for t in view.timeline}
    assert steps["arriving"]["place_kind"] == "port_abroad" and steps["arriving"]["cte"] == "Receiving"
    assert any(t["place_kind"] == "buyer" and t["biz_step"] == "receiving" for t in view.timeline)
    # one arrow abroad per loading for a buyer; the departures add none
    loads = [t for t in view.timeline if t["biz_step"] == "loading"]
    assert len(view.exits) == len(loads)


def test_fsma204_export_lists_the_voyage_events_with_the_bill_of_lading(gen_dir: Path) -> None:
    from analytics.traceability import exports

    q = pl.read_parquet(storage.table_path(gen_dir, "trace_quality"))
    row = q.row(0, named=True)
    rows = exports.fsma204_rows(gen_dir, row["gtin"], row["lot_code"])
    view = lots.lot_view(gen_dir, row["gtin"], row["lot_code"])
    by_hash = {r["Event Hash"]: r for r in rows}
    voyage = [t for t in view.timeline if t["biz_step"] in ("departing", "arriving")
              or (t["biz_step"] == "receiving" and t["place_kind"] == "buyer")]
    assert voyage and all(t["event_hash"] in by_hash for t in voyage)
    for t in voyage:
        r = by_hash[t["event_hash"]]
        assert r["Critical Tracking Event"] == ("Shipping" if t["biz_step"] == "departing" else "Receiving")
        assert r["Reference Document Type"] == "bol" and ":BL-" in r["Reference Document Number"]
    text = exports.write_fsma204(rows, "csv").decode()
    assert text.count("\n") == len(rows) + 1
