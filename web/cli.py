"""The command line: ``python app.py <command>`` (``app.py`` hands its arguments and ``create_app`` here).

    python app.py serve [--host H] [--port P]
    python app.py generate [--orders N] [--seed S] --data-dir DIR
    python app.py train --data-dir DIR
    python app.py import dataco FILE --data-dir DIR
    python app.py import epcis FILE --data-dir DIR
    python app.py segments --data-dir DIR --k K --export FILE.csv
    python app.py scenario --data-dir DIR --preset NAME --json
    python app.py prepare --data-dir DIR      (generate + train when missing; used by `make run`)
    python app.py bench [--quick]

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
    card = train_all(settings.data_dir, progress=Progress("train"))
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


def cmd_segments(args: argparse.Namespace) -> int:
    args.data_dir = settings_from_args(args).data_dir
    from analytics.segments import cli

    return int(cli(args))


def cmd_scenario(args: argparse.Namespace) -> int:
    args.data_dir = settings_from_args(args).data_dir
    from analytics.scenarios import cli

    return int(cli(args))


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
    sp.set_defaults(func=cmd_import)

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
