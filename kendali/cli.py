"""The ``kendali`` command: demo, up, topics, run, api, simulate, import, city, token, bench.

Every subcommand has ``--help``; errors are one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from pathlib import Path

from kendali.importers import add_import_parser
from kendali.settings import Settings, SettingsError, load_settings
from kendali.tokens import add_cli as add_token_cli

__all__ = ["main"]

BENCHMARKS = ("nab", "traffic", "hydromet", "complaints", "throughput")


class CliError(Exception):
    """A failure to report as one line, without a traceback."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.settings)


def cmd_up(args: argparse.Namespace) -> int:
    from kendali.stack import EmbeddedStack

    settings = _settings(args)
    with EmbeddedStack(settings) as stack:
        print(f"broker  {stack.bootstrap}\nredis   {stack.redis_url}\n(Ctrl-C stops both)")
        _wait_for_interrupt()
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from kendali.stack import create_topics

    settings = _settings(args)
    parts = settings.topics.partitions
    create_topics(
        settings.kafka.bootstrap, dict.fromkeys(settings.all_topics(), parts), settings.kafka.config
    )
    print(f"topics ready on {settings.kafka.bootstrap}: {', '.join(settings.all_topics())}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from kendali.processes import flow_command, init_recovery, server_env

    settings = _settings(args)
    if not args.no_recovery:
        init_recovery(settings, fresh=args.fresh)  # RecoveryMismatch: one line, exit 1
    argv = flow_command(settings, recovery=not args.no_recovery)
    return subprocess.call(argv, env=server_env(settings))


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app

    settings = _settings(args)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api.host,
        port=args.port or settings.api.port,
        log_level="warning",
    )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from kendali.demo import simulate

    return simulate(_settings(args), args)


def cmd_demo(args: argparse.Namespace) -> int:
    from kendali.demo import run_demo

    return run_demo(_settings(args), args)


def cmd_import(args: argparse.Namespace) -> int:
    from kendali.importers import run_import

    return run_import(_settings(args), args)


def cmd_city(args: argparse.Namespace) -> int:
    from kendali.importers import write_scats_city

    folder = write_scats_city(args.locations, args.out, Path(_settings(args).city))
    print(f"city written to {folder}; run with KENDALI_CITY={folder}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"benchmarks.{args.name}")
    except ModuleNotFoundError as exc:
        raise CliError(f"benchmark {args.name!r} is not available: {exc}") from None
    return int(module.main(args.rest) or 0)


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _add_sim_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same city)")
    p.add_argument(
        "--speedup",
        type=float,
        default=60.0,
        help="simulated seconds per wall second until the simulation reaches now",
    )
    p.add_argument(
        "--backfill-days",
        type=float,
        default=7.0,
        help="days of history published first, so detectors learn what is normal",
    )
    p.add_argument(
        "--live-hours",
        type=float,
        default=None,
        help="simulated hours played live before reaching now (default: 1.5, or from the last "
        "07:00 local time when that would be at night, so the scenario meets real traffic)",
    )
    p.add_argument("--scenario", default=None, help="scenario file (default: the city's)")
    p.add_argument("--truth", default=None, help="write the injected incidents to this file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kendali", description="Real-time incident detection for a city command centre."
    )
    parser.add_argument("--settings", help="settings TOML (default: kendali.toml, KENDALI_*)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="the demo city end to end on the embedded stack")
    p.add_argument("--port", type=int, default=None, help="API port (default 8000)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    _add_sim_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("up", help="start the embedded broker and Redis only")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("topics", help="create Kendali's topics on the configured broker")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("run", help="run the dataflow against the configured servers")
    p.add_argument("--no-recovery", action="store_true", help="no snapshots (replays all input)")
    p.add_argument("--fresh", action="store_true", help="wipe the recovery store first")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("api", help="serve the HTTP API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("simulate", help="publish the demo city to Kafka")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    _add_sim_options(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "bench",
        help=f"run a benchmark: {', '.join(BENCHMARKS)}",
        description="Run a benchmark; `kendali bench NAME --help` for its options.",
    )
    p.add_argument("name", choices=BENCHMARKS)
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the benchmark's own arguments")
    p.set_defaults(func=cmd_bench)

    add_token_cli(sub, _settings)
    add_import_parser(sub, cmd_import, cmd_city)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (CliError, SettingsError, OSError, ValueError) as exc:
        print(f"kendali: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
