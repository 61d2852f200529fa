"""`ioc demo`: the whole system on one machine, with embedded defaults, in one command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _default_workdir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ioc-monitor" / "demo"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="HTTP port of the console (default 8080)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--workdir", type=Path, default=_default_workdir(), help="where data and logs go")
    parser.add_argument(
        "--database-url", default=None, help="use this PostgreSQL/TimescaleDB instead of an embedded one"
    )
    parser.add_argument(
        "--mqtt-url", default=None, help="use this MQTT broker (transport mqtt) instead of starting NATS"
    )
    parser.add_argument(
        "--nats-url", default=None, help="use this NATS server (transport jetstream) instead of starting one"
    )
    parser.add_argument("--video", default=None, help="video file for the simulated camera (env IOC_DEMO_VIDEO)")
    parser.add_argument("--model", default=None, help="detector weights, .pt or .onnx (env IOC_DEMO_MODEL)")
    parser.add_argument("--time-scale", type=float, default=120.0, help="speed-up of simulated tides (default 120)")


def run_demo(args: argparse.Namespace) -> int:
    from ioc.demo.runner import Demo, DemoOptions

    options = DemoOptions(
        port=args.port,
        workdir=args.workdir.expanduser().resolve(),
        database_url=args.database_url,
        mqtt_url=args.mqtt_url,
        nats_url=args.nats_url,
        video=args.video,
        model=args.model,
        time_scale=args.time_scale,
        open_browser=not args.no_browser,
    )
    try:
        return Demo(options).run()
    except (RuntimeError, TimeoutError) as exc:
        print(f"ioc demo: {exc}", file=sys.stderr)
        return 1
