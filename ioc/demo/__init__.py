"""`ioc demo`: the whole system on one machine. Not built yet (see the demo issue)."""

from __future__ import annotations

import argparse
import sys


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="HTTP port of the console")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")


def run_demo(args: argparse.Namespace) -> int:
    print(
        "ioc demo is not available yet: it lands with the demo issue. "
        "Meanwhile run `ioc server` and `ioc edge` against your own PostgreSQL and Mosquitto (see README).",
        file=sys.stderr,
    )
    return 2
