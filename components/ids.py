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
