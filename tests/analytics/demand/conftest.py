"""Demand fixtures: generated datasets for several seeds, one forecast reused across tests, and a
DataCo-shaped CSV (markets instead of DCs) imported with the DataCo importer."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from analytics.demo_orders import generate_dataset
from tests.conftest import ROOT

QUALITY_ORDERS = 40_000
QUALITY_SEEDS = (1, 2, 3)
DATACO_FIXTURE = ROOT / "data" / "fixtures" / "dataco_sample.csv"


class SeedDirs(Mapping[int, Path]):
    """Generated demo data (40,000 orders) per quality seed, each generated the first time a test asks for it:
    most tests read seed 1 only, and a worker that runs none of the three-seed quality tests skips seeds 2-3."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._dirs: dict[int, Path] = {}

    def __getitem__(self, seed: int) -> Path:
        if seed not in QUALITY_SEEDS:
            raise KeyError(seed)
        if seed not in self._dirs:
            d = self._factory.mktemp(f"demand-seed{seed}")
            generate_dataset(d, n_orders=QUALITY_ORDERS, seed=seed)
            self._dirs[seed] = d
        return self._dirs[seed]

    def __iter__(self) -> Iterator[int]:
        return iter(QUALITY_SEEDS)

    def __len__(self) -> int:
        return len(QUALITY_SEEDS)


@pytest.fixture(scope="session")
def seed_dirs(tmp_path_factory: pytest.TempPathFactory) -> SeedDirs:
    """Generated demo data (40,000 orders) for each quality seed, generated on first use. Read-only."""
    return SeedDirs(tmp_path_factory)


@pytest.fixture(scope="session")
def forecast1_dir(seed_dirs: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of seed 1's data whose demand cache holds :func:`forecast1`."""
    import shutil

    d = tmp_path_factory.mktemp("demand-forecast1") / "data"
    shutil.copytree(seed_dirs[1], d)
    return d


@pytest.fixture(scope="session")
def forecast1(forecast1_dir: Path):
    """The full forecast (every candidate, 12 weeks) as of the end of seed 1's data (kept in its cache)."""
    from analytics.demand.weekly_forecast import cached_forecast
    from analytics.engine.polars_engine import PolarsEngine

    return cached_forecast(forecast1_dir, PolarsEngine(forecast1_dir), None, 12)


@pytest.fixture(scope="session")
def trained_small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12,000 orders with the logistics models trained (gradient boosting only)."""
    from analytics.logistics.train import train

    d = tmp_path_factory.mktemp("demand-trained")
    generate_dataset(d, n_orders=12_000, seed=11)
    train(d, None, train_net=False)
    return d


MARKETS = {"LATAM": 0.45, "Europe": 0.25, "USCA": 0.15, "Pacific Asia": 0.1, "Africa": 0.05}
DATACO_CATEGORIES = {"Cleats": 0.3, "Camping & Hiking": 0.25, "Fishing": 0.2, "Water Sports": 0.15, "Golf Balls": 0.1}
COUNTRIES = {"LATAM": ("Perú", "Lima"), "Europe": ("Francia", "Île-de-France"), "USCA": ("Estados Unidos", "California"),
             "Pacific Asia": ("Japón", "Tokio"), "Africa": ("Nigeria", "Lagos")}
MODES = ("Standard Class", "Second Class", "First Class", "Same Day")


def write_dataco_csv(path: Path, n_rows: int, seed: int) -> dict[tuple[str, str], int]:
    """A DataCo-shaped CSV (the sample fixture's header) over 2015-2017: growing demand, a December peak.
    Returns units by (market, category)."""
    rng = np.random.default_rng(seed)
    with DATACO_FIXTURE.open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    start = datetime(2015, 1, 1)
    days = np.arange(3 * 365)
    month = np.array([(start + timedelta(days=int(d))).month for d in days])
    w = (1 + 0.3 * days / 365) * np.where(month == 12, 1.6, 1.0)
    day = rng.choice(days, size=n_rows, p=w / w.sum())
    markets = rng.choice(list(MARKETS), size=n_rows, p=list(MARKETS.values()))
    cats = rng.choice(list(DATACO_CATEGORIES), size=n_rows, p=list(DATACO_CATEGORIES.values()))
    qty = 1 + rng.poisson(0.8, n_rows)
    units: dict[tuple[str, str], int] = {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=header)
        wr.writeheader()
        for i in range(n_rows):
            ts = start + timedelta(days=int(day[i]), minutes=int(rng.integers(0, 1440)))
            sched = int(rng.integers(1, 5))
            real = sched + int(rng.integers(-1, 3))
            country, state = COUNTRIES[markets[i]]
            rec = {h: "" for h in header}
            rec.update({
                "Type": "DEBIT", "Days for shipping (real)": str(max(real, 0)),
                "Days for shipment (scheduled)": str(sched), "Category Name": cats[i], "Customer Segment": "Consumer",
                "Customer Id": str(1000 + i % 900), "Customer City": state, "Customer State": state,
                "Customer Country": country, "Market": markets[i], "Order City": state, "Order Country": country,
                "Order Customer Id": str(1000 + i % 900), "order date (DateOrders)": ts.strftime("%m/%d/%Y %H:%M"),
                "Order Id": str(50_000 + i), "Order Item Id": str(900_000 + i), "Order Item Quantity": str(qty[i]),
                "Sales": f"{40.0 * qty[i]:.2f}", "Order Item Discount Rate": "0.05", "Order Region": "Somewhere",
                "Order State": state, "Product Card Id": str(500 + list(DATACO_CATEGORIES).index(cats[i])),
                "Product Name": f"{cats[i]} item", "Product Price": "40.0", "Shipping Mode": MODES[i % 4],
                "Delivery Status": "Shipping on time", "Order Status": "COMPLETE",
            })
            wr.writerow(rec)
            key = (str(markets[i]), str(cats[i]))
            units[key] = units.get(key, 0) + int(qty[i])
    return units


@pytest.fixture(scope="session")
def dataco_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, str], int]]:
    """A data folder holding a DataCo-shaped import (12,000 order lines over 2015-2017)."""
    from analytics.dataco import import_dataco

    root = tmp_path_factory.mktemp("demand-dataco")
    units = write_dataco_csv(root / "dataco.csv", 12_000, 5)
    result = import_dataco(root / "dataco.csv", root / "data")
    assert result.imported == 12_000 and result.quarantined == 0, result.as_json()
    return root / "data", units
