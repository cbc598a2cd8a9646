"""Chasqui: the app factory. ``python app.py <command>`` runs the command line (``web.cli``).

Nothing happens at import: gunicorn uses ``app:server``, which builds the app on first access.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `python app.py` from elsewhere
    sys.path.insert(0, str(ROOT))

from web.settings import Settings  # noqa: E402  (light: stdlib only)

if TYPE_CHECKING:
    from dash import Dash


def create_app(settings: Settings | None = None, *, start_live: bool | None = None) -> Dash:
    """Build the Dash app: settings → runtime → background jobs → pages and callbacks → web layer → live feed."""
    import pandas  # noqa: F401  # loaded here, by one thread: see below
    from dash import Dash

    import callbacks
    from components.i18n import current_lang
    from components.layout import shell
    from web import jobs, runtime, server

    # Plotly's validators use pandas if it is in sys.modules, without the import lock: while another thread is
    # still importing it (Spark Connect's client, a scorer loading scikit-learn), a figure built meanwhile fails
    # ("partially initialized module 'pandas'"). Nothing else here imports it now that the pages no longer load
    # scikit-learn, so it is imported first, before any thread starts (0.7 CPU-s).
    settings = settings or Settings.from_env(os.environ)
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime.configure(settings, warm=True)  # warm: with Spark, reach the host's Spark now, not on a first visit
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        background_callback_manager=jobs.background_manager(settings),
        suppress_callback_exceptions=False,
        title="Chasqui",
        update_title=None,  # type: ignore[arg-type]  # None: the tab title never changes while updating
        serve_locally=True,
    )

    def layout() -> Any:  # per request: the visitor's language, and who is signed in (when sign-in is on)
        signed_in = app.server.config.get("CHASQUI_SIGNED_IN")
        return shell(current_lang(), signed_in() if signed_in else None)

    app.layout = layout
    owners = callbacks.register_all(app)
    server.install(app, settings, owners)
    app.server.config["CHASQUI_SETTINGS"] = settings
    if start_live if start_live is not None else settings.live:
        from analytics import live

        app.server.config["CHASQUI_LIVE"] = live.start(settings.live_config())
    return app


def __getattr__(name: str) -> Any:
    """``app.server`` for gunicorn (``gunicorn app:server``), built on first access."""
    if name == "server":
        created = create_app()
        globals()["server"] = created.server
        return created.server
    raise AttributeError(name)


if __name__ == "__main__":
    from web.cli import main

    sys.exit(main(sys.argv[1:], create_app))
