"""The command line: ``python app.py <command>`` (``app.py`` hands its arguments and ``create_app`` here).

    python app.py serve [--host H] [--port P]
    python app.py generate [--orders N] [--seed S] --data-dir DIR
    python app.py train --data-dir DIR
    python app.py import dataco FILE --data-dir DIR
    python app.py import epcis FILE --data-dir DIR [--strict-context]
    python app.py epcis-hash FILE [--prehash] [--strict-context]
    python app.py verify-lot LOT --data-dir DIR [--ledger-url URL] [--trust-key FILE] [--witness-key FILE ...]
                             [--min-witnesses N]
    python app.py witness --data-dir DIR --log-url URL --log-key FILE
    python app.py trust-witness FILE --data-dir DIR
    python app.py segments --data-dir DIR --k K --export FILE.csv
    python app.py scenario --data-dir DIR --preset NAME --json
    python app.py shelf-life --data-dir DIR --lot LOT [--extra-hours H --at-temp C] --json
    python app.py forecast --data-dir DIR [--as-of YYYY-MM-DD] [--horizon WEEKS] [--export FILE.csv]
    python app.py stock --data-dir DIR --service-level 0.95 [--on-hand FILE.csv] [--scenario PRESET] --json
    python app.py prepare --data-dir DIR      (generate + train when missing; used by `make run`)
    python app.py bench [--quick]
    python app.py warm --data-dir DIR [--watch SECONDS]   (every page's default view into the result cache;
                                                `serve` and gunicorn's master do it in the background whenever the
                                                data version is not warm)
    python app.py hash-password USER ROLE[,ROLE]   (a users-file line; password from stdin or asked for)

Each command reads the settings (``CHASQUI_*``, then its flags) and calls one analytics function; only
``serve`` builds the app, with the factory it is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web.settings import Settings, SettingsError

log = logging.getLogger("chasqui")
AppFactory = Callable[[Settings], Any]


class Progress:
    """A progress bar on stderr (a line per 10% when not a terminal)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.tty = sys.stderr.isatty()
        self.last = -1
        self.t0 = time.perf_counter()

    def __call__(self, label: str, frac: float) -> None:
        pct = int(max(0.0, min(1.0, frac)) * 100)
        if self.tty:
            bar = "#" * (pct // 4)
            sys.stderr.write(f"\r{self.title} [{bar:<25}] {pct:3d}% {label[:40]:<40}")
            if pct >= 100:
                sys.stderr.write(f"  {time.perf_counter() - self.t0:.1f}s\n")
            sys.stderr.flush()
        elif pct // 10 != self.last // 10 or pct == 100:
            sys.stderr.write(f"{self.title}: {pct}% {label} ({time.perf_counter() - self.t0:.1f}s)\n")
        self.last = pct


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {k: getattr(args, k) for k in ("data_dir", "host", "port") if getattr(args, k, None) is not None}
    return Settings.from_env(os.environ, **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    create_app: AppFactory | None = getattr(args, "create_app", None)
    if create_app is None:
        raise ValueError("serve needs the app factory (run it as `python app.py serve`)")
    settings = settings_from_args(args)
    app = create_app(settings)
    # one request before serving: Dash finishes its one-time setup before concurrent first requests
    app.server.test_client().get("/healthz")
    from web.jobs import start_job_server

    start_job_server()  # background jobs' fork server imports while the server starts, not on the first job
    if settings.warm:
        from web.warmup import Watcher

        Watcher(settings).start()  # warm every page's default view now and after each data change
    log.info("Chasqui on http://%s:%s (data: %s, engine: %s)", settings.host, settings.port,
             settings.data_dir, settings.engine)
    app.run(host=settings.host, port=settings.port, debug=False)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from analytics.demo_orders import describe_counts, generate_dataset

    settings = settings_from_args(args)
    t0 = time.perf_counter()
    counts = generate_dataset(settings.data_dir, n_orders=args.orders, seed=args.seed,
                              progress=Progress("generate"))
    print(json.dumps({"data_dir": str(settings.data_dir), "seed": args.seed, "tables": counts,
                      "seconds": round(time.perf_counter() - t0, 2)}))
    log.info("generated %s", describe_counts(counts))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from analytics.training import train_all

    settings = settings_from_args(args)
    card = train_all(settings.data_dir, progress=Progress("train"), tracking_uri=settings.mlflow_uri)
    print(json.dumps(card, default=str))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Generate demo data and train models if they are missing (what `make run` does first)."""
    from analytics import storage

    settings = settings_from_args(args)
    if not storage.has_table(settings.data_dir, "orders"):
        args.orders, args.seed = args.orders or 200_000, args.seed
        cmd_generate(args)
    if not settings.data.model_card.exists():
        cmd_train(args)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    args.data_dir = settings.data_dir
    if args.kind == "dataco":
        from analytics.dataco import cli as dataco_cli

        return int(dataco_cli(args))
    from analytics.traceability.epcis_import import cli_import

    return int(cli_import(args))


def cmd_epcis_hash(args: argparse.Namespace) -> int:
    from analytics.traceability.epcis_import import cli_hash

    return int(cli_hash(args))


def cmd_verify_lot(args: argparse.Namespace) -> int:
    """One JSON line; exit 0 verified, 1 tampered, 2 unverifiable."""
    if args.min_witnesses < 0:
        raise ValueError("--min-witnesses must not be negative")
    settings = settings_from_args(args)
    args.data_dir, args.ledger_dir, args.trust_dir = settings.data_dir, settings.data.ledger, settings.data.ledger_trust
    args.ledger_url = args.ledger_url or settings.ledger_url
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per tile fetched
    from analytics.traceability.verification import cli_verify_lot

    return int(cli_verify_lot(args))


def cmd_witness(args: argparse.Namespace) -> int:
    """One JSON line; exit 0 cosigned, 1 refused (split view, rewritten history), 2 could not check."""
    args.data_dir = settings_from_args(args).data_dir
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from analytics.traceability.witnessing import cli_witness

    return int(cli_witness(args))


def cmd_trust_witness(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    args.data_dir, args.ledger_dir = settings.data_dir, settings.data.ledger
    from analytics.traceability.witnessing import cli_trust_witness

    return int(cli_trust_witness(args))


def cmd_segments(args: argparse.Namespace) -> int:
    args.data_dir = settings_from_args(args).data_dir
    from analytics.segments import cli

    return int(cli(args))


def cmd_scenario(args: argparse.Namespace) -> int:
    args.data_dir = settings_from_args(args).data_dir
    from analytics.scenarios import cli

    return int(cli(args))


def cmd_shelf_life(args: argparse.Namespace) -> int:
    """A lot's predicted shelf life at arrival; exit 2 for a lot that is not perishable, a bad what-if, an unknown
    lot or no trained model."""
    args.data_dir = settings_from_args(args).data_dir
    from analytics.shelflife import cli

    return int(cli(args))


def cmd_forecast(args: argparse.Namespace) -> int:
    """Weekly demand P10/P50/P90 per DC x category; one JSON line, the CSV with ``--export``; exit 2 on bad input."""
    from analytics.demand import cli

    return int(cli.forecast_cli(args))


def cmd_stock(args: argparse.Namespace) -> int:
    """Safety stock and reorder points per DC x category at a service level; exit 2 on bad input."""
    from analytics.demand import cli

    return int(cli.stock_cli(args))


def cmd_hash_password(args: argparse.Namespace) -> int:
    """One users-file line (``USER:ROLES:scrypt$…``) on stdout. The password is read from stdin when it is
    not a terminal (one line), asked for twice otherwise; nothing is echoed or logged."""
    import getpass

    from web.passwords import users_line

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.user}: ")
        if password != getpass.getpass("the same password again: "):
            raise ValueError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    print(users_line(args.user, args.roles, password))
    return 0


def cmd_warm(args: argparse.Namespace) -> int:
    """Compute every page's default view into the result cache for the current data version (one JSON line)."""
    from web.runtime import RUNTIME_ENV
    from web.warmup import warm

    create_app: AppFactory | None = getattr(args, "create_app", None)
    if create_app is None:
        raise ValueError("warm needs the app factory (run it as `python app.py warm`)")
    raw = os.environ.get(RUNTIME_ENV) if args.from_runtime_env else None
    settings = Settings.from_json(raw) if raw else settings_from_args(args)
    parent = os.getppid()  # started by a server: stop when it stops (we are then handed to another parent)

    def orphaned() -> bool:
        return os.getppid() != parent

    should_stop = orphaned if args.from_runtime_env or args.watch is not None else None
    # sign-in and the live feed do not change a result: this process serves nobody
    settings = settings.replace(auth_file=None, oidc_issuer=None, live=False, demo_feed=False)
    app = create_app(settings)
    pages = tuple(args.page) or None
    if args.watch is None:
        t0 = time.perf_counter()
        report = warm(app, settings, force=args.force, pages=pages, should_stop=should_stop)
        print(json.dumps({**report.as_dict(), "total_seconds": round(time.perf_counter() - t0, 2)}))
        return 1 if report.failed else 0
    return _watch_and_warm(app, settings, pages, max(args.watch, 0.1), orphaned)


def _watch_and_warm(app: object, settings: Settings, pages: tuple[str, ...] | None, every: float,
                    orphaned: Callable[[], bool]) -> int:
    """``warm --watch SECONDS`` (what gunicorn's master starts): warm now, then look every SECONDS and warm again
    whenever the data version is not warm (a ``prepare``, ``train`` or an import); one JSON line per warm-up.
    Ends when its parent (the server) is gone."""
    from web.warmup import is_warm, warm

    while not orphaned():
        try:
            if not is_warm():
                t0 = time.perf_counter()
                report = warm(app, settings, pages=pages, should_stop=orphaned)
                if not report.skipped:
                    print(json.dumps({**report.as_dict(), "total_seconds": round(time.perf_counter() - t0, 2)}),
                          flush=True)
        except Exception:  # a failed look (a busy cache past its wait...) must not end the watching
            log.exception("warm-up failed; trying again in %.0f s", every)
        deadline = time.monotonic() + every
        while time.monotonic() < deadline and not orphaned():
            time.sleep(min(0.5, every))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.run import main as bench_main

    return int(bench_main(quick=args.quick, only=args.only))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py", description="Chasqui — control tower for Peruvian supply chains")
    sub = p.add_subparsers(dest="command", required=True)

    def data_dir(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", type=Path, default=None,
                        help="dataset folder (default: $CHASQUI_DATA_DIR, else data/demo)")

    sp = sub.add_parser("serve", help="serve the app")
    data_dir(sp)
    sp.add_argument("--host", default=None)
    sp.add_argument("--port", type=int, default=None)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("warm", help="compute every page's default view into the result cache")
    data_dir(sp)
    sp.add_argument("--force", action="store_true", help="warm even if this data version is marked warm")
    sp.add_argument("--page", action="append", default=[], help="only this page path (repeatable; default: all)")
    sp.add_argument("--watch", type=float, default=None, metavar="SECONDS",
                    help="keep running: warm again whenever the data version changes (looks every SECONDS); ends "
                         "with its parent process (gunicorn's master starts it so)")
    sp.add_argument("--from-runtime-env", action="store_true", help=argparse.SUPPRESS)  # started by the server
    sp.set_defaults(func=cmd_warm)

    sp = sub.add_parser("generate", help="generate the deterministic demo dataset")
    data_dir(sp)
    sp.add_argument("--orders", type=int, default=200_000, help="number of orders (default 200,000)")
    sp.add_argument("--seed", type=int, default=7)
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("train", help="train every model the data supports into DIR/models/")
    data_dir(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("prepare", help="generate and train when missing (used by make run)")
    data_dir(sp)
    sp.add_argument("--orders", type=int, default=200_000)
    sp.add_argument("--seed", type=int, default=7)
    sp.set_defaults(func=cmd_prepare)

    sp = sub.add_parser("import", help="import real data: `import dataco FILE` or `import epcis FILE`")
    sp.add_argument("kind", choices=["dataco", "epcis"])
    sp.add_argument("file", type=Path)
    data_dir(sp)
    sp.add_argument("--fx-usd-pen", type=float, default=3.30,
                    help="dataco: soles per US dollar for amounts (default 3.30)")
    sp.add_argument("--strict-context", action="store_true",
                    help="epcis: refuse a document naming a JSON-LD context that is not bundled")
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("epcis-hash", help="print the GS1 CBV 2.0 hash of every event of an EPCIS document")
    sp.add_argument("file", type=Path)
    sp.add_argument("--prehash", action="store_true", help="also print the pre-hash string after each hash")
    sp.add_argument("--strict-context", action="store_true",
                    help="refuse a document naming a JSON-LD context that is not bundled")
    sp.set_defaults(func=cmd_epcis_hash)

    sp = sub.add_parser("verify-lot", help="verify a lot against the ledger (exit 0 verified, 1 tampered, "
                        "2 unverifiable)")
    sp.add_argument("lot", help="lot code, SSCC or GS1 Digital Link")
    data_dir(sp)
    sp.add_argument("--gtin", default=None, help="the lot's GTIN when several lots share its code")
    sp.add_argument("--ledger-url", default=None,
                    help="a log served in the tlog-tiles layout, e.g. https://chasqui.example.pe/ledger "
                         "(default: $CHASQUI_LEDGER_URL, else the local log)")
    sp.add_argument("--trust-key", type=Path, default=None,
                    help="the log's verifier key file (default: the key pinned before, else DIR/ledger/verifier.pub)")
    sp.add_argument("--witness-key", type=Path, action="append", default=[],
                    help="a witness's key file (repeatable)")
    sp.add_argument("--min-witnesses", type=int, default=0,
                    help="cosignatures by these witnesses the checkpoint must carry (default 0)")
    sp.set_defaults(func=cmd_verify_lot)

    sp = sub.add_parser("witness", help="witness a log: check it only grew, then cosign (exit 0 cosigned, "
                        "1 refused, 2 could not check)")
    data_dir(sp)
    sp.add_argument("--log-url", required=True, help="the log's tlog-tiles URL, e.g. https://chasqui.example.pe/ledger")
    sp.add_argument("--log-key", type=Path, required=True, help="the log's verifier key file")
    sp.add_argument("--name", default=None,
                    help="this witness's name when its key is first made (default witness.chasqui.pe/<host>)")
    sp.set_defaults(func=cmd_witness)

    sp = sub.add_parser("trust-witness", help="accept a witness's cosignatures on this log (its witness.pub)")
    sp.add_argument("file", type=Path)
    data_dir(sp)
    sp.set_defaults(func=cmd_trust_witness)

    sp = sub.add_parser("segments", help="segment customers (RFM + K-means) and export")
    data_dir(sp)
    sp.add_argument("--k", type=int, required=True)
    sp.add_argument("--export", type=Path, default=None)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_segments)

    sp = sub.add_parser("scenario", help="run a what-if scenario preset")
    data_dir(sp)
    sp.add_argument("--preset", required=True)
    sp.add_argument("--json", action="store_true", help="print one JSON line")
    sp.add_argument("--runs", type=int, default=1000)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_scenario)

    sp = sub.add_parser("shelf-life", help="predicted shelf life at arrival of a perishable lot (P10/P50/P90), "
                        "optionally if it waits H hours at C °C")
    data_dir(sp)
    sp.add_argument("--lot", required=True, help="lot code, SSCC or GS1 Digital Link")
    sp.add_argument("--gtin", default=None, help="the lot's GTIN when several lots share its code")
    sp.add_argument("--extra-hours", type=float, default=0.0, help="what-if: extra hours before departure")
    sp.add_argument("--at-temp", type=float, default=None, help="what-if: temperature (°C) of those hours")
    sp.add_argument("--json", action="store_true", help="print one JSON line")
    sp.set_defaults(func=cmd_shelf_life)

    from analytics.demand.cli import add_forecast_arguments, add_stock_arguments

    sp = sub.add_parser("forecast", help="weekly demand per DC x category with P10/P50/P90 (and its backtest)")
    add_forecast_arguments(sp)
    sp.set_defaults(func=cmd_forecast)

    sp = sub.add_parser("stock", help="safety stock and reorder point per DC x category at a service level")
    add_stock_arguments(sp)
    sp.set_defaults(func=cmd_stock)

    sp = sub.add_parser("hash-password", help="print a users-file line for CHASQUI_AUTH_FILE (password from "
                        "stdin when it is not a terminal, asked for otherwise)")
    sp.add_argument("user", help="user name (letters, digits, . _ @ + -)")
    sp.add_argument("roles", help="ROLE[,ROLE]: logistics, marketing, executive, traceability-admin")
    sp.set_defaults(func=cmd_hash_password)

    sp = sub.add_parser("bench", help="run the benchmarks side by side")
    sp.add_argument("--quick", action="store_true")
    sp.add_argument("--only", default=None, help="run only benchmarks whose module name contains this")
    sp.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None, create_app: AppFactory | None = None) -> int:
    """Run one command; returns the exit status (2 with ``error: ...`` on stderr for bad settings or input)."""
    args = build_parser().parse_args(argv)
    args.create_app = create_app
    logging.basicConfig(level=os.environ.get("CHASQUI_LOG_LEVEL", "INFO").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (SettingsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RecursionError:  # e.g. a JSON document nested thousands of levels deep: refused, not a traceback
        print("error: the input is nested too deeply to read", file=sys.stderr)
        return 2
