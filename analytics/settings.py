"""One settings object. Only the app factory (app.py) reads the environment, via ``from_env``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data" / "demo"

ENGINES = ("polars", "spark")
LANGUAGES = ("es", "en")


class SettingsError(ValueError):
    """A setting has a value Chasqui cannot use."""


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"not a boolean: {value!r} (use 1/0, true/false)")


# name -> (environment variable, parser, description) ; the README table is generated from this.
ENV_VARS: dict[str, tuple[str, Any, str]] = {
    "data_dir": ("CHASQUI_DATA_DIR", Path, "Dataset folder (Parquet tables, models/, ledger/)"),
    "engine": ("CHASQUI_ENGINE", str, "Analytics engine: `polars` (default) or `spark`"),
    "spark_master": ("CHASQUI_SPARK_MASTER", str, "Spark master URL or `sc://` Connect URL (default `local[*]`)"),
    "kafka_bootstrap": ("CHASQUI_KAFKA_BOOTSTRAP", str, "Kafka bootstrap servers; unset = embedded broker on loopback"),
    "ledger_dir": ("CHASQUI_LEDGER_DIR", Path, "Local Merkle log folder (default `DATA_DIR/ledger`)"),
    "ledger_url": ("CHASQUI_LEDGER_URL", str, "Remote ledger base URL (HTTP transport); unset = local log"),
    "cache_dir": ("CHASQUI_CACHE_DIR", Path, "diskcache folder for background callbacks and live tiles"),
    "host": ("CHASQUI_HOST", str, "Address `serve` binds to"),
    "port": ("CHASQUI_PORT", int, "Port `serve` listens on"),
    "log_level": ("CHASQUI_LOG_LEVEL", str, "Logging level (DEBUG, INFO, WARNING, ...)"),
    "demo_feed": ("CHASQUI_DEMO_FEED", _bool, "Replay demo events into the live feed (1/0)"),
    "live": ("CHASQUI_LIVE", _bool, "Start the live Kafka listener with the app (1/0)"),
    "lang": ("CHASQUI_LANG", str, "Default UI language: `es` (es-PE) or `en`"),
    "demo_feed_rate": ("CHASQUI_DEMO_FEED_RATE", float, "Demo events per second"),
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    engine: str = "polars"
    spark_master: str = "local[*]"
    kafka_bootstrap: str | None = None
    ledger_dir: Path | None = None
    ledger_url: str | None = None
    cache_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8050
    log_level: str = "INFO"
    demo_feed: bool = True
    live: bool = True
    lang: str = "es"
    demo_feed_rate: float = 20.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise SettingsError(f"CHASQUI_ENGINE must be one of {ENGINES}, not {self.engine!r}")
        if self.lang not in LANGUAGES:
            raise SettingsError(f"CHASQUI_LANG must be one of {LANGUAGES}, not {self.lang!r}")
        if not (0 < self.port < 65536):
            raise SettingsError(f"port out of range: {self.port}")
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.ledger_dir is None:
            object.__setattr__(self, "ledger_dir", Path(self.data_dir) / "ledger")
        if self.cache_dir is None:
            object.__setattr__(self, "cache_dir", Path(self.data_dir) / ".cache")

    @property
    def models_dir(self) -> Path:
        return Path(self.data_dir) / "models"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Defaults, then ``CHASQUI_*`` variables, then explicit overrides (tests, CLI flags)."""
        values: dict[str, Any] = {}
        for name, (var, parse, _) in ENV_VARS.items():
            raw = environ.get(var)
            if raw is None or raw == "":
                continue
            try:
                values[name] = parse(raw)
            except (ValueError, SettingsError) as exc:
                raise SettingsError(f"{var}={raw!r}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)
