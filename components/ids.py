"""Every component id, in one place, prefixed by page. Never build an id by concatenation elsewhere."""

# --- shell (navbar, stores) -------------------------------------------------
URL = "shell-url"
LANG_STORE = "shell-lang-store"
THEME_STORE = "shell-theme-store"
LANG_SWITCH = "shell-lang-switch"
THEME_SWITCH = "shell-theme-switch"
NAVBAR = "shell-navbar"
RELOAD = "shell-reload"

# --- overview (/) ------------------------------------------------------------
OVERVIEW_DATES = "overview-dates"
OVERVIEW_KPIS = "overview-kpis"
OVERVIEW_TREND = "overview-trend"
OVERVIEW_REGIONS = "overview-regions"
OVERVIEW_STATUS = "overview-status"
OVERVIEW_LIVE = "overview-live"
OVERVIEW_QUERY = "overview-query"  # URL state (synced into the query string)
OVERVIEW_QUERY_SYNCED = "overview-query-synced"

# --- data (/data) ------------------------------------------------------------
DATA_TABLES = "data-tables"
DATA_MODELS = "data-models"
DATA_REFRESH = "data-refresh"

# --- page blocks: each page issue adds its own block below this line ---------

# --- scenarios (/scenarios) --------------------------------------------------
SCENARIOS_URL = "scenarios-url"
SCENARIOS_PRESET = "scenarios-preset"
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
SCENARIOS_REGIONS_FIG = "scenarios-regions-fig"
SCENARIOS_TORNADO_FIG = "scenarios-tornado-fig"
SCENARIOS_MITIGATIONS = "scenarios-mitigations"
SCENARIOS_SAVE_NAME = "scenarios-save-name"
SCENARIOS_SAVE_BTN = "scenarios-save-btn"
SCENARIOS_SAVED = "scenarios-saved"
SCENARIOS_COMPARE_FIG = "scenarios-compare-fig"
SCENARIOS_EXPORT_BTN = "scenarios-export-btn"
SCENARIOS_DOWNLOAD = "scenarios-download"

# --- sourcing (/sourcing) ------------------------------------------------------
SOURCING_INGREDIENTS = "sourcing-ingredients"
SOURCING_W_SUSTAINABILITY = "sourcing-w-sustainability"
SOURCING_W_PRICE = "sourcing-w-price"
SOURCING_W_RELIABILITY = "sourcing-w-reliability"
SOURCING_W_DISTANCE = "sourcing-w-distance"
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
LIVE_TILE_VALUE = "live-tile-value"  # dict id {"type": LIVE_TILE_VALUE, "tile": <tile key>}
LIVE_TILE_SPARK = "live-tile-spark"  # dict id {"type": LIVE_TILE_SPARK, "tile": <tile key>}
LIVE_ALERTS = "live-alerts"
LIVE_STATUS = "live-status"
