"""Cold-chain checks for IoT readings: per-product limits and an IsolationForest anomaly detector.

Limits follow common handling guidance for Peru's perishable exports and pharma (°C, relative humidity %).
The detector is trained on normal readings simulated from these profiles (seeded, local, no download):
``python app.py train`` saves it to ``DIR/models/coldchain_iforest.skops`` with a manifest; when that
artifact is missing the listener trains the same model in memory at start-up (about a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analytics.datadir import COLDCHAIN_MODEL, DataDir


@dataclass(frozen=True)
class ColdChainProfile:
    product: str
    temp_min_c: float
    temp_max_c: float
    humidity_min_pct: float
    humidity_max_pct: float
    name_es: str
    name_en: str

    @property
    def temp_mid_c(self) -> float:
        return (self.temp_min_c + self.temp_max_c) / 2

    @property
    def temp_half_range(self) -> float:
        return max(0.25, (self.temp_max_c - self.temp_min_c) / 2)


PROFILES: dict[str, ColdChainProfile] = {p.product: p for p in (
    ColdChainProfile("blueberries", 0.0, 2.0, 90, 95, "arándanos", "blueberries"),
    ColdChainProfile("asparagus", 0.0, 2.0, 95, 100, "espárragos", "asparagus"),
    ColdChainProfile("grapes", -1.0, 1.0, 90, 95, "uvas", "grapes"),
    ColdChainProfile("avocados", 5.0, 7.0, 85, 95, "paltas", "avocados"),
    ColdChainProfile("mangoes", 10.0, 13.0, 85, 95, "mangos", "mangoes"),
    ColdChainProfile("fresh_fish", 0.0, 4.0, 85, 100, "pescado fresco", "fresh fish"),
    ColdChainProfile("dairy", 1.0, 4.0, 70, 90, "lácteos", "dairy"),
    ColdChainProfile("vaccines", 2.0, 8.0, 30, 70, "vacunas", "vaccines"),
)}
PRODUCTS: frozenset[str] = frozenset(PROFILES)
ARTIFACT = COLDCHAIN_MODEL


def excursion(product: str, temp_c: float) -> str | None:
    """"high"/"low" when the temperature is outside the product's limits, else None."""
    p = PROFILES[product]
    if temp_c > p.temp_max_c:
        return "high"
    if temp_c < p.temp_min_c:
        return "low"
    return None


def features(products: list[str], temps: np.ndarray, hums: np.ndarray) -> np.ndarray:
    """Readings normalised by their product profile: (temp - mid)/half-range, (hum - mid)/half-range."""
    mid_t = np.array([PROFILES[p].temp_mid_c for p in products])
    half_t = np.array([PROFILES[p].temp_half_range for p in products])
    lo_h = np.array([PROFILES[p].humidity_min_pct for p in products])
    hi_h = np.array([PROFILES[p].humidity_max_pct for p in products])
    return np.column_stack([(temps - mid_t) / half_t, (hums - (lo_h + hi_h) / 2) / np.maximum(2.5, (hi_h - lo_h) / 2)])


def simulate_normal(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Normal readings: temperature around the middle of the band, humidity inside its band."""
    names = sorted(PROFILES)
    products = [names[i] for i in rng.integers(0, len(names), n)]
    mid_t = np.array([PROFILES[p].temp_mid_c for p in products])
    half_t = np.array([PROFILES[p].temp_half_range for p in products])
    lo_h = np.array([PROFILES[p].humidity_min_pct for p in products])
    hi_h = np.array([PROFILES[p].humidity_max_pct for p in products])
    temps = mid_t + rng.normal(0.0, 0.35, n) * half_t
    hums = np.clip(rng.normal((lo_h + hi_h) / 2, (hi_h - lo_h) / 4), 0, 100)
    return products, np.round(temps, 2), np.round(hums, 1)


class ColdChainAnomalyDetector:
    """IsolationForest over profile-normalised readings (scikit-learn estimator contract)."""

    def __init__(self, n_estimators: int = 100, contamination: float = 0.003, random_state: int = 7,
                 max_samples: int = 4096):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, products: list[str], temps: np.ndarray, hums: np.ndarray) -> ColdChainAnomalyDetector:
        from sklearn.ensemble import IsolationForest

        self.forest_ = IsolationForest(n_estimators=self.n_estimators, contamination=self.contamination,
                                       max_samples=min(self.max_samples, len(products)),
                                       random_state=self.random_state).fit(features(products, temps, hums))
        return self

    def predict(self, products: list[str], temps: np.ndarray, hums: np.ndarray) -> np.ndarray:
        """True where a reading is anomalous."""
        if not hasattr(self, "forest_"):
            raise RuntimeError("ColdChainAnomalyDetector is not fitted; call fit() first")
        if not products:
            return np.zeros(0, dtype=bool)
        return self.forest_.predict(features(products, np.asarray(temps, float), np.asarray(hums, float))) == -1


def train_detector(seed: int = 7, n: int = 8_000) -> tuple[ColdChainAnomalyDetector, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    products, temps, hums = simulate_normal(rng, n)
    det = ColdChainAnomalyDetector(random_state=seed).fit(products, temps, hums)
    # held-out check: the false-alarm rate on fresh normal readings and the catch rate on glitches
    p2, t2, h2 = simulate_normal(rng, 5_000)
    false_alarm = float(det.predict(p2, t2, h2).mean())
    glitch_h = np.clip(h2 - 55.0, 0, 100)  # a failing humidity sensor with a plausible temperature
    caught = float(det.predict(p2, t2, glitch_h).mean())
    return det, {"n_train": n, "false_alarm_rate": round(false_alarm, 4), "sensor_glitch_recall": round(caught, 4)}


def train(data_dir: Path, progress: Any = None) -> dict[str, Any]:
    """Trainer (analytics.training.default_trainers): fit the detector, save it with a manifest under DIR/models."""
    from analytics import artifacts

    report = progress or (lambda label, frac: None)
    report("coldchain anomaly detector", 0.1)
    det, metrics = train_detector()
    path = DataDir(Path(data_dir)).coldchain_model
    manifest = artifacts.save(det.forest_, path, params={"n_estimators": det.n_estimators,
                              "contamination": det.contamination, "random_state": det.random_state,
                              "max_samples": det.max_samples,
                              "features": ["temp_norm", "humidity_norm"], "profiles": sorted(PROFILES)},
                              metrics=metrics, data_fingerprint="simulated:coldchain-profiles-v1")
    report("coldchain anomaly detector", 1.0)
    return {"coldchain_anomaly": {"file": ARTIFACT, "sha256": manifest["sha256"], "metrics": metrics}}


def load_or_train(data_dir: Path | None) -> tuple[ColdChainAnomalyDetector, str]:
    """The saved detector when DIR/models has a valid one, else one trained now (in memory)."""
    if data_dir is not None:
        path = DataDir(Path(data_dir)).coldchain_model
        if path.exists():
            from analytics import artifacts

            manifest = artifacts.read_manifest(path)
            forest = artifacts.load(path)
            params = manifest.get("params", {})
            det = ColdChainAnomalyDetector(params.get("n_estimators", 100), params.get("contamination", 0.003),
                                           params.get("random_state", 7), params.get("max_samples", 4096))
            det.forest_ = forest
            return det, f"artifact:{ARTIFACT}"
    det, _ = train_detector()
    return det, "trained-at-startup"
