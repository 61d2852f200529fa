"""`ioc edge`: run one edge worker. Only the standard library is imported at module level."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any


def add_edge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="streams.yaml (env IOC_CONFIG; default ./streams.yaml)")
    parser.add_argument("--worker-id", help="this worker's id in edge_workers (env IOC_WORKER_ID)")
    parser.add_argument("--mqtt-url", help="broker URL, e.g. mqtt://user:pass@host:1883 (env IOC_MQTT_URL)")
    parser.add_argument("--transport", choices=["mqtt", "jetstream"], help="events over (env IOC_TRANSPORT)")
    parser.add_argument("--nats-url", help="NATS URL for --transport jetstream (env IOC_NATS_URL)")
    parser.add_argument("--spool-dir", help="where events wait while the broker is away (env IOC_SPOOL_DIR)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (env IOC_LOG_LEVEL)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = {
        "config": "config",
        "worker_id": "worker_id",
        "mqtt_url": "mqtt_url",
        "spool_dir": "spool_dir",
        "transport": "transport",
        "nats_url": "nats_url",
    }
    values = {field: getattr(args, name) for name, field in keys.items() if getattr(args, name, None)}
    if getattr(args, "log_level", None):
        values["log_level"] = args.log_level
    return values


def run_edge(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from contract.config import ConfigError
    from edge.settings import EdgeSettings
    from edge.worker import EdgeWorker, WorkerError

    try:
        settings = EdgeSettings(**_overrides(args))
    except ValidationError as exc:
        print(f"ioc edge: bad settings:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        worker = EdgeWorker.from_settings(settings)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except WorkerError as exc:
        print(f"ioc edge: {exc}", file=sys.stderr)
        return 1
    worker.start()
    try:
        worker.run(stop)
    finally:
        worker.stop()
    return 0
