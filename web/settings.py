"""One settings object. Only the app factory (app.py) reads the environment, via ``from_env``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.datadir import DataDir  # stdlib only: the settings stay light to import

if TYPE_CHECKING:
    from analytics.engine import EngineConfig
    from analytics.live import LiveConfig

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


def _paths(value: str) -> tuple[str, ...]:
    if value.strip().lower() == "none":
        return ()
    paths = tuple("/" + p.strip().strip("/") for p in value.split(",") if p.strip())
    if any(not p.replace("/", "").replace("-", "").replace("_", "").isalnum() and p != "/" for p in paths):
        raise SettingsError(f"not a list of page paths: {value!r}")
    return paths


# name -> (environment variable, parser, description) ; the README table is generated from this.
ENV_VARS: dict[str, tuple[str, Any, str]] = {
    "data_dir": ("CHASQUI_DATA_DIR", Path, "Dataset folder (Parquet tables, models/, ledger/)"),
    "engine": ("CHASQUI_ENGINE", str, "Analytics engine: `polars` (default) or `spark`"),
    "spark_master": ("CHASQUI_SPARK_MASTER", str, "Spark master (`local[*]` default, `spark://`, `yarn`, `k8s://`: "
                     "driven by one Spark Connect server per host) or an `sc://` Connect URL"),
    "kafka_bootstrap": ("CHASQUI_KAFKA_BOOTSTRAP", str, "Kafka bootstrap servers; unset = embedded broker on loopback"),
    "ledger_dir": ("CHASQUI_LEDGER_DIR", Path, "Local Merkle log folder (default `DATA_DIR/ledger`)"),
    "ledger_url": ("CHASQUI_LEDGER_URL", str, "Remote ledger base URL (HTTP transport); unset = local log"),
    "cache_dir": ("CHASQUI_CACHE_DIR", Path, "diskcache folder for background callbacks and live tiles"),
    "host": ("CHASQUI_HOST", str, "Address `serve` binds to"),
    "port": ("CHASQUI_PORT", int, "Port `serve` listens on"),
    "log_level": ("CHASQUI_LOG_LEVEL", str, "Logging level (DEBUG, INFO, WARNING, ...)"),
    "demo_feed": ("CHASQUI_DEMO_FEED", _bool, "Replay demo events into the live feed (1/0)"),
    "live": ("CHASQUI_LIVE", _bool, "Start the live Kafka listener with the app (1/0)"),
    "warm": ("CHASQUI_WARM", _bool, "`serve` (and gunicorn's master) warms every page's default view in the background (1/0)"),
    "lang": ("CHASQUI_LANG", str, "Default UI language: `es` (es-PE) or `en`"),
    "demo_feed_rate": ("CHASQUI_DEMO_FEED_RATE", float, "Demo events per second"),
    # sign-in, request limits and background jobs
    "auth_file": ("CHASQUI_AUTH_FILE", Path, "Users file (USER:ROLES:HASH lines) turning on HTTP basic sign-in"),
    "public_pages": ("CHASQUI_PUBLIC_PAGES", _paths, "Pages open without sign-in, comma-separated"),
    "metrics_public": ("CHASQUI_METRICS_PUBLIC", _bool, "Serve /metrics without sign-in when sign-in is on (1/0)"),
    "max_request_mb": ("CHASQUI_MAX_REQUEST_MB", float, "Largest request body in MB (larger gets 413)"),
    "upload_max_mb": ("CHASQUI_UPLOAD_MAX_MB", float, "Largest CSV upload on the Data page in MB"),
    "trust_proxy": ("CHASQUI_TRUST_PROXY", int, "Reverse proxies to trust for X-Forwarded-Proto/For (0 = none)"),
    "max_jobs": ("CHASQUI_MAX_JOBS", int, "Background jobs running at once per host (0 = CPU quota or CPUs, at least 2)"),
    "job_queue": ("CHASQUI_JOB_QUEUE", int, "Background jobs waiting for a slot per host; more get 'busy, retry' "
                  "(-1 = twice CHASQUI_MAX_JOBS)"),
    "jobs_per_user": ("CHASQUI_JOBS_PER_USER", int, "Background jobs (running or waiting) per user or client address"),
    "mlflow_uri": ("CHASQUI_MLFLOW_URI", str, "MLflow tracking URI for training runs; unset = file store DATA_DIR/mlruns"),
    # OpenID Connect sign-in; see web/oidc.py
    "oidc_issuer": ("CHASQUI_OIDC_ISSUER", str, "OpenID provider issuer URL; turns on OIDC sign-in"),
    "oidc_client_id": ("CHASQUI_OIDC_CLIENT_ID", str, "OIDC client id registered at the provider"),
    "oidc_client_secret": ("CHASQUI_OIDC_CLIENT_SECRET", str, "OIDC client secret (confidential client)"),
    "oidc_roles_claim": ("CHASQUI_OIDC_ROLES_CLAIM", str, "ID-token claim holding the user's Chasqui roles"),
    "oidc_scopes": ("CHASQUI_OIDC_SCOPES", str, "Scopes asked for at sign-in, space-separated"),
    "oidc_redirect_base": ("CHASQUI_OIDC_REDIRECT_BASE", str, "Public base URL; redirect URI is BASE/auth/callback"),
    "secret_key": ("CHASQUI_SECRET_KEY", str, "Key signing the session cookie; required with OIDC"),
    "session_hours": ("CHASQUI_SESSION_HOURS", float, "How long an OIDC sign-in lasts, in hours"),
}
# never serialised (to_json) nor shown (repr): background jobs do not need them
SECRET_FIELDS = ("oidc_client_secret", "secret_key")


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
    warm: bool = True
    lang: str = "es"
    demo_feed_rate: float = 20.0
    auth_file: Path | None = None
    public_pages: tuple[str, ...] = ("/traceability",)
    metrics_public: bool = False
    max_request_mb: float = 32.0
    upload_max_mb: float = 20.0
    trust_proxy: int = 0
    max_jobs: int = 0
    job_queue: int = -1
    jobs_per_user: int = 3
    mlflow_uri: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_roles_claim: str = "roles"
    oidc_scopes: str = "openid profile email"
    oidc_redirect_base: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_hours: float = 8.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise SettingsError(f"CHASQUI_ENGINE must be one of {ENGINES}, not {self.engine!r}")
        if self.lang not in LANGUAGES:
            raise SettingsError(f"CHASQUI_LANG must be one of {LANGUAGES}, not {self.lang!r}")
        if not (0 < self.port < 65536):
            raise SettingsError(f"port out of range: {self.port}")
        if not (0 < self.upload_max_mb <= self.max_request_mb <= 1024):
            raise SettingsError("need 0 < CHASQUI_UPLOAD_MAX_MB <= CHASQUI_MAX_REQUEST_MB <= 1024")
        if not (0 <= self.trust_proxy <= 5):
            raise SettingsError(f"CHASQUI_TRUST_PROXY must be 0..5, not {self.trust_proxy}")
        if not (0 <= self.max_jobs <= 256):
            raise SettingsError(f"CHASQUI_MAX_JOBS must be 0..256 (0 = number of CPUs), not {self.max_jobs}")
        if not (-1 <= self.job_queue <= 1024):
            raise SettingsError(f"CHASQUI_JOB_QUEUE must be -1..1024 (-1 = twice CHASQUI_MAX_JOBS), not {self.job_queue}")
        if not (1 <= self.jobs_per_user <= 256):
            raise SettingsError(f"CHASQUI_JOBS_PER_USER must be 1..256, not {self.jobs_per_user}")
        if not (0 < self.session_hours <= 24 * 30):
            raise SettingsError(f"CHASQUI_SESSION_HOURS must be in (0, 720], not {self.session_hours}")
        if not self.oidc_roles_claim.strip():
            raise SettingsError("CHASQUI_OIDC_ROLES_CLAIM must not be empty")
        object.__setattr__(self, "public_pages", tuple(self.public_pages))
        if self.auth_file is not None:
            object.__setattr__(self, "auth_file", Path(self.auth_file))
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        default = DataDir(Path(self.data_dir))
        if self.ledger_dir is None:
            object.__setattr__(self, "ledger_dir", default.ledger)
        if self.cache_dir is None:
            object.__setattr__(self, "cache_dir", default.cache.root)

    @property
    def models_dir(self) -> Path:
        return self.data.models

    @property
    def data(self) -> DataDir:
        """The data folder's layout (tables, models, ledger, quarantine, caches) under these settings."""
        return DataDir(Path(self.data_dir), cache_dir=self.cache_dir, ledger_dir=self.ledger_dir)

    def engine_config(self) -> EngineConfig:
        """What ``analytics.engine.make_engine`` needs from these settings."""
        from analytics.engine import EngineConfig

        return EngineConfig(data_dir=Path(self.data_dir), engine=self.engine, spark_master=self.spark_master,
                            cache_dir=Path(self.cache_dir) if self.cache_dir is not None else None)

    def live_config(self) -> LiveConfig:
        """What ``analytics.live.start`` needs from these settings."""
        from analytics.live import LiveConfig

        assert self.cache_dir is not None  # set in __post_init__
        return LiveConfig(data_dir=Path(self.data_dir), cache_dir=Path(self.cache_dir), enabled=self.live,
                          kafka_bootstrap=self.kafka_bootstrap, demo_feed=self.demo_feed,
                          demo_feed_rate=self.demo_feed_rate)

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

    def to_json(self) -> str:
        """Serialised settings, handed to background-job processes (they start fresh: see runtime).

        Secrets (``SECRET_FIELDS``) are left out: jobs do not sign anyone in.
        """
        import json

        return json.dumps({f.name: (None if f.name in SECRET_FIELDS else str(v) if isinstance(v, Path) else v)
                           for f in dataclasses.fields(self) for v in [getattr(self, f.name)]})

    @classmethod
    def from_json(cls, raw: str) -> Settings:
        import json

        values = json.loads(raw)
        for name in ("data_dir", "ledger_dir", "cache_dir"):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        return cls(**values)
