"""Every component id, in one place, prefixed by page. Never build an id by concatenation elsewhere.

Dict ids (pattern-matching widgets) are built only by the functions at the end of this module, so a
layout and the callbacks that match it (with ``ALL``/``MATCH`` as the key's value) agree on their shape.
"""

from __future__ import annotations

from typing import Any

# --- routes: the page paths (``dash.register_page(path=...)``, owners of callback outputs) ----
PATH_OVERVIEW = "/"
PATH_LOGISTICS = "/logistics"
PATH_SEGMENTS = "/segments"
PATH_SCENARIOS = "/scenarios"
PATH_SOURCING = "/sourcing"
PATH_TRACEABILITY = "/traceability"
PATH_DATA = "/data"
PATH_DEMAND = "/demand"

# --- shell (navbar, stores) -------------------------------------------------
URL = "shell-url"
LANG_STORE = "shell-lang-store"
THEME_STORE = "shell-theme-store"
LANG_SWITCH = "shell-lang-switch"
THEME_SWITCH = "shell-theme-switch"
NAVBAR = "shell-navbar"
NAVBAR_TOGGLER = "shell-navbar-toggler"
NAVBAR_COLLAPSE = "shell-navbar-collapse"
NAVBAR_USER = "shell-navbar-user"
NAVBAR_SIGNOUT = "shell-navbar-signout"
NAVBAR_SIGNOUT_CSRF = "shell-navbar-signout-csrf"  # the sign-out form's hidden anti-forgery token
JOBS_BUSY = "shell-jobs-busy"  # "busy, retry" notice, set by the job manager (web.jobs) when a job is refused
RELOAD = "shell-reload"

# --- overview (/) ------------------------------------------------------------
OVERVIEW_DATES = "overview-dates"
OVERVIEW_KPIS = "overview-kpis"
OVERVIEW_TREND = "overview-trend"
OVERVIEW_REGIONS = "overview-regions"  # the regions ranked (bars)
OVERVIEW_MAP = "overview-map"  # the regions on a map of Peru
OVERVIEW_MAP_METRIC = "overview-map-metric"  # revenue | orders
OVERVIEW_STATUS = "overview-status"
OVERVIEW_SLOW = "overview-slow"
OVERVIEW_LIVE = "overview-live"
OVERVIEW_QUERY = "overview-query"  # URL state (synced into the query string)
OVERVIEW_QUERY_SYNCED = "overview-query-synced"

# --- data (/data) ------------------------------------------------------------
DATA_TABLES = "data-tables"
DATA_MODELS = "data-models"
DATA_REFRESH = "data-refresh"
DATA_UPLOAD = "data-upload"  # DataCo CSV upload (validated type, size, encoding)
DATA_UPLOAD_HELP = "data-upload-help"  # the upload's help text (states the size limit from the settings)
DATA_UPLOAD_RESULT = "data-upload-result"
DATA_SUMMARY_TABLE = "data-summary-table"
DATA_MODELS_TABLE = "data-models-table"
DATA_RUNS = "data-runs"  # training runs tracked in MLflow and the live model versions
DATA_RUNS_TABLE = "data-runs-table"
DATA_ACCORDION = "data-accordion"  # one item per table; an item's schema and quarantine drawn when it is opened
DATA_TABLE_BODY = "data-table-body"

# --- page blocks: one block per page, prefixed by its route ------------------

# --- logistics (/logistics) ----------------------------------------------------
LOGISTICS_DATES = "logistics-dates"
LOGISTICS_CARRIERS = "logistics-carriers"
LOGISTICS_MODES = "logistics-modes"
LOGISTICS_CATEGORIES = "logistics-categories"
LOGISTICS_DCS = "logistics-dcs"
LOGISTICS_METRIC = "logistics-metric"  # predicted risk | historical late rate
LOGISTICS_MAP = "logistics-map"  # choropleth of Peru's regions (click: drill-down)
LOGISTICS_RANKING = "logistics-ranking"  # the same regions ranked as bars (click: drill-down)
LOGISTICS_RANKING_TITLE = "logistics-ranking-title"
LOGISTICS_KPIS = "logistics-kpis"
LOGISTICS_STATUS = "logistics-status"
LOGISTICS_GRID = "logistics-grid"
LOGISTICS_EXPORT = "logistics-export"
LOGISTICS_DOWNLOAD = "logistics-download"
LOGISTICS_REGION = "logistics-region"  # store: the clicked region
LOGISTICS_DRILL_TITLE = "logistics-drill-title"
LOGISTICS_HEAT = "logistics-heat"
LOGISTICS_WEEKLY = "logistics-weekly"
LOGISTICS_CARD = "logistics-card"
LOGISTICS_CALIBRATION = "logistics-calibration"
LOGISTICS_ROC = "logistics-roc"
LOGISTICS_IMPORTANCE = "logistics-importance"
LOGISTICS_RETRAIN = "logistics-retrain"
LOGISTICS_RETRAIN_CANCEL = "logistics-retrain-cancel"
LOGISTICS_RETRAIN_PROGRESS = "logistics-retrain-progress"
LOGISTICS_RETRAIN_STATUS = "logistics-retrain-status"
LOGISTICS_MODEL_VERSION = "logistics-model-version"  # store: bumps after a retrain
LOGISTICS_QUERY = "logistics-query"  # URL state (synced into the query string)
LOGISTICS_QUERY_SYNCED = "logistics-query-synced"

# --- traceability (/traceability) --------------------------------------------
TRACE_QUERY = "trace-query"
TRACE_GTIN = "trace-gtin"
TRACE_SEARCH = "trace-search"
TRACE_LOT = "trace-lot"  # store: the open lot {"gtin", "lot"}
TRACE_STATUS = "trace-status"
TRACE_SUMMARY = "trace-summary"
TRACE_QR = "trace-qr"
TRACE_VERDICT = "trace-verdict"
TRACE_TIMELINE = "trace-timeline"
TRACE_MAP = "trace-map"
TRACE_COLD = "trace-cold"
TRACE_RECALL = "trace-recall"
TRACE_EXPORT_RECALL = "trace-export-recall"
TRACE_EXPORT_CSV = "trace-export-csv"
TRACE_EXPORT_XLSX = "trace-export-xlsx"
TRACE_DOWNLOAD = "trace-download"
TRACE_EXAMPLES = "trace-examples"
TRACE_SHELF = "trace-shelf"  # the lot's predicted shelf life at arrival: band, drivers, what-if result
TRACE_SHELF_HOURS = "trace-shelf-hours"  # what-if: extra hours before departure
TRACE_SHELF_TEMP = "trace-shelf-temp"  # what-if: temperature of those hours (°C)
TRACE_SHELF_RECORDED = "trace-shelf-recorded"  # quality recorded at arrival against the forecast (received lots)

# --- segments (/segments) --------------------------------------------------------
SEGMENTS_K = "segments-k"
SEGMENTS_DATES = "segments-dates"
SEGMENTS_REGIONS = "segments-regions"
SEGMENTS_COMPARE = "segments-compare"
SEGMENTS_CANCEL = "segments-cancel"
SEGMENTS_PROGRESS = "segments-progress"
SEGMENTS_STATUS = "segments-status"
SEGMENTS_SUMMARY = "segments-summary"
SEGMENTS_CURVES = "segments-curves"
SEGMENTS_PCA = "segments-pca"
SEGMENTS_SANKEY = "segments-sankey"
SEGMENTS_PROFILE = "segments-profile"
SEGMENTS_EXPORT_SEGMENT = "segments-export-segment"
SEGMENTS_EXPORT = "segments-export"
SEGMENTS_DOWNLOAD = "segments-download"
SEGMENTS_QUERY = "segments-query"  # URL state (synced into the query string)
SEGMENTS_QUERY_SYNCED = "segments-query-synced"

# --- demand and stock ----------------------------------------------------------------------------
DEMAND_DC = "demand-dc"
DEMAND_CATEGORY = "demand-category"
DEMAND_HORIZON = "demand-horizon"
DEMAND_SERVICE_LEVEL = "demand-service-level"
DEMAND_SCENARIO = "demand-scenario"
DEMAND_PROGRESS = "demand-progress"
DEMAND_CANCEL = "demand-cancel"
DEMAND_STATUS = "demand-status"
DEMAND_SUMMARY = "demand-summary"
DEMAND_CHART = "demand-chart"
DEMAND_BACKTEST = "demand-backtest"
DEMAND_STOCK = "demand-stock"
DEMAND_COMPARISON = "demand-comparison"
DEMAND_EXPORT = "demand-export"
DEMAND_DOWNLOAD = "demand-download"
DEMAND_QUERY = "demand-query"  # URL state (synced into the query string)
DEMAND_QUERY_SYNCED = "demand-query-synced"
DEMAND_ON_HAND = "demand-on-hand"  # on-hand CSV upload (origin_dc,category,on_hand_units; limits of web.uploads)
DEMAND_ON_HAND_HELP = "demand-on-hand-help"  # the upload's help text (states the size limit from the settings)
DEMAND_ON_HAND_RESULT = "demand-on-hand-result"  # accepted / rejected rows of the uploaded file
DEMAND_SCENARIO_QUERY = "demand-scenario-query"  # a custom scenario's inputs from the URL (opened from /scenarios)

# --- scenarios (/scenarios) --------------------------------------------------
SCENARIOS_URL = "scenarios-url"
SCENARIOS_URL_SYNC = "scenarios-url-sync"
SCENARIOS_PRESET = "scenarios-preset"
SCENARIOS_REPLAY = "scenarios-replay"  # replay the preset as of the day before its episode (backtest)
SCENARIOS_REPLAY_URL = "scenarios-replay-url"  # the replay's part of the query string
SCENARIOS_BACKTEST = "scenarios-backtest"
SCENARIOS_BACKTEST_FIG = "scenarios-backtest-fig"
SCENARIOS_NINO = "scenarios-nino"
SCENARIOS_NORTE_DAYS = "scenarios-norte-days"
SCENARIOS_BLOCK_REGIONS = "scenarios-block-regions"
SCENARIOS_BLOCK_DAYS = "scenarios-block-days"
SCENARIOS_CALLAO_DAYS = "scenarios-callao-days"
SCENARIOS_CENTRAL_DAYS = "scenarios-central-days"
SCENARIOS_FUEL = "scenarios-fuel"
SCENARIOS_CAPACITY = "scenarios-capacity"
SCENARIOS_DEMAND_CAT = "scenarios-demand-cat"
SCENARIOS_DEMAND_PCT = "scenarios-demand-pct"
SCENARIOS_HORIZON = "scenarios-horizon"
SCENARIOS_RESULT = "scenarios-result"
SCENARIOS_KPIS = "scenarios-kpis"
SCENARIOS_STATUS = "scenarios-status"
SCENARIOS_SLOW = "scenarios-slow"
SCENARIOS_REGIONS_FIG = "scenarios-regions-fig"
SCENARIOS_TORNADO_FIG = "scenarios-tornado-fig"
SCENARIOS_MITIGATIONS = "scenarios-mitigations"
SCENARIOS_INSIGHTS_PROGRESS = "scenarios-insights-progress"
SCENARIOS_INSIGHTS_CANCEL = "scenarios-insights-cancel"
SCENARIOS_SAVE_NAME = "scenarios-save-name"
SCENARIOS_SAVE_BTN = "scenarios-save-btn"
SCENARIOS_SAVED = "scenarios-saved"
SCENARIOS_COMPARE_FIG = "scenarios-compare-fig"
SCENARIOS_EXPORT_BTN = "scenarios-export-btn"
SCENARIOS_DOWNLOAD = "scenarios-download"
SCENARIOS_STOCK_LINK = "scenarios-stock-link"  # opens /demand with the current scenario's query string

# --- sourcing (/sourcing) ------------------------------------------------------
SOURCING_INGREDIENTS = "sourcing-ingredients"
SOURCING_WEIGHTS = "sourcing-weights"  # the weight sliders, one per ranking criterion (built on load)
SOURCING_WEIGHT = "sourcing-weight"  # dict id {"type": SOURCING_WEIGHT, "criterion": <criterion>}, see sourcing_weight
SOURCING_URL_WEIGHTS = "sourcing-url-weights"  # store: the weights the URL asked for
SOURCING_MIN_QUALITY = "sourcing-min-quality"
SOURCING_STATUS = "sourcing-status"
SOURCING_GRID = "sourcing-grid"
SOURCING_BREAKDOWN = "sourcing-breakdown"
SOURCING_MAP = "sourcing-map"
SOURCING_PARETO = "sourcing-pareto"
SOURCING_TOPK = "sourcing-topk"
SOURCING_EXPORT = "sourcing-export"
SOURCING_DOWNLOAD = "sourcing-download"
SOURCING_MENU_GRID = "sourcing-menu-grid"
SOURCING_MENU_ADD = "sourcing-menu-add"
SOURCING_MENU_RESULT = "sourcing-menu-result"
SOURCING_QUERY = "sourcing-query"  # URL state (synced into the query string)
SOURCING_QUERY_SYNCED = "sourcing-query-synced"

# --- live tiles (on the overview page) ------------------------------------------
LIVE_SECTION = "live-section"
LIVE_INTERVAL = "live-interval"
LIVE_TILE_VALUE = "live-tile-value"  # dict id {"type": LIVE_TILE_VALUE, "tile": <tile key>}, see live_tile_value
LIVE_TILE_SPARK = "live-tile-spark"  # dict id {"type": LIVE_TILE_SPARK, "tile": <tile key>}, see live_tile_spark
LIVE_ALERTS = "live-alerts"
LIVE_STATUS = "live-status"


# --- dict ids: built here only (pass dash.ALL / MATCH as the key to match every one in a callback) ----

def data_table_body(table: Any) -> dict[str, Any]:
    """The body of a table's item on the Data page (``table``: a table name, or ``ALL`` in a callback)."""
    return {"type": DATA_TABLE_BODY, "table": table}


def live_tile_value(tile: Any) -> dict[str, Any]:
    """The value text of a live tile (``tile``: a tile key, or ``ALL`` in a callback)."""
    return {"type": LIVE_TILE_VALUE, "tile": tile}


def live_tile_spark(tile: Any) -> dict[str, Any]:
    """The sparkline of a live tile (``tile``: a tile key, or ``ALL`` in a callback)."""
    return {"type": LIVE_TILE_SPARK, "tile": tile}


def sourcing_weight(criterion: Any) -> dict[str, Any]:
    """The weight slider of one ranking criterion (``criterion``: its name, or ``ALL`` in a callback)."""
    return {"type": SOURCING_WEIGHT, "criterion": criterion}
