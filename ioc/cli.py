"""The `ioc` command: one entry point for the server, the edge workers, config checks and the demo.

Heavy packages (FastAPI, torch, OpenCV) are imported only by the subcommand that needs them,
so a server host without the `[edge]` extra, or an edge host without `[server]`, still works.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from contract import __version__
from contract.config import ConfigError, load_config
from contract.redact import install_log_redaction

Runner = Callable[[argparse.Namespace], int]


def _import_side(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in {"edge", "server"}:
            raise
        raise SystemExit(
            f"ioc: this command needs the '{extra}' extra ({exc.name} is missing): pip install 'ioc-monitor[{extra}]'"
        ) from exc


def run_validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    print(
        f"{args.file}: OK ({len(config.sites)} sites, {len(config.cameras)} cameras, "
        f"{len(config.sensors)} sensors, {len(config.rules)} rules, {len(config.channels)} channels)"
    )
    return 0


def _add_validate(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a streams.yaml file and report every error with its line",
        description="Validate streams.yaml: structure, bounds and cross references. "
        "Prints every problem as FILE:LINE: key.path: message and exits 1 when there is any.",
    )
    parser.add_argument("file", help="path to streams.yaml")
    parser.set_defaults(run=run_validate)


def _add_side(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    selected: str | None,
    name: str,
    module: str,
    extra: str,
    help_text: str,
    description: str,
) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=description)
    if name == selected:
        side = _import_side(module, extra)
        getattr(side, f"add_{name}_arguments")(parser)
        parser.set_defaults(run=getattr(side, f"run_{name}"))


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only the `selected` subcommand's module is imported (for its options)."""
    parser = argparse.ArgumentParser(
        prog="ioc",
        description="IOC Monitor: real-time camera and sensor monitoring for an Intelligent Operations Center.",
    )
    parser.add_argument("--version", action="version", version=f"ioc-monitor {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_side(
        subparsers,
        selected,
        "server",
        "server.cli",
        "server",
        "run the central server: MQTT ingest, storage, alerts, API and console",
        "Run the central FastAPI server. It applies database migrations, ingests sensor readings and "
        "edge events from MQTT, evaluates alert rules and serves the REST API and the operator console. "
        "Settings come from the options below or IOC_* environment variables.",
    )
    _add_side(
        subparsers,
        selected,
        "migrate",
        "server.cli",
        "server",
        "apply database migrations and exit",
        "Create or upgrade the database schema (TimescaleDB features are used when the extension exists).",
    )
    _add_side(
        subparsers,
        selected,
        "edge",
        "edge.cli",
        "edge",
        "run an edge worker: RTSP cameras to detection events on MQTT",
        "Run one edge worker: decode the cameras assigned to it in streams.yaml, detect and track objects, "
        "and publish events and camera health over MQTT (spooled on disk while the broker is away).",
    )
    _add_side(
        subparsers,
        selected,
        "demo",
        "ioc.demo",
        "server",
        "run the whole system on this machine with simulated cameras and sensors",
        "Start an embedded database and broker, simulated Mekong sensors, a looping camera, the server "
        "and one edge worker, then print the console URL.",
    )
    _add_side(
        subparsers,
        selected,
        "simulate",
        "ioc.simulate",
        "server",
        "publish simulated Mekong sensor readings for the sensors in streams.yaml",
        "Publish realistic readings (tide-driven salinity, water level, rain, PM2.5) for every sensor in "
        "streams.yaml, each in its own payload format, to test ingest, rules and the console.",
    )
    _add_validate(subparsers)
    return parser


def quiet_request_logs() -> None:
    """httpx logs every request line at INFO, a webhook URL's path or query (tokens) included: warnings only."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    install_log_redaction()  # every subcommand's log records lose URL credentials (and known secrets)
    quiet_request_logs()
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
    run: Runner | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
