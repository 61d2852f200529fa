"""`ioc simulate`: publish realistic Mekong sensor readings for every sensor in streams.yaml."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from contract.config import ConfigError, load_config
from contract.jetstream import DEFAULT_NATS_URL
from contract.mqtturl import parse_mqtt_url


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=os.environ.get("IOC_CONFIG", "streams.yaml"), help="streams.yaml path")
    parser.add_argument(
        "--mqtt-url", default=os.environ.get("IOC_MQTT_URL", "mqtt://127.0.0.1:1883"), help="broker URL"
    )
    parser.add_argument(
        "--transport",
        choices=["mqtt", "jetstream"],
        default=os.environ.get("IOC_TRANSPORT", "mqtt"),
        help="jetstream: publish natively into NATS (Nats-Msg-Id = reading id); mqtt: QoS 1 to the broker",
    )
    parser.add_argument(
        "--nats-url", default=os.environ.get("IOC_NATS_URL", DEFAULT_NATS_URL), help="NATS URL(s), comma-separated"
    )
    parser.add_argument(
        "--mqtt-protocol",
        choices=["5", "3.1.1"],
        default=os.environ.get("IOC_MQTT_PROTOCOL", "5"),
        help="3.1.1 for NATS's MQTT listener",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between readings of each sensor")
    parser.add_argument("--time-scale", type=float, default=60.0, help="speed-up of tides and daily cycles")
    parser.add_argument(
        "--season", type=float, default=None, help="0 (wet season) to 1 (dry-season peak); default: from the date"
    )


def run_simulate(args: argparse.Namespace) -> int:
    from ioc.sim.publisher import SensorSimulator
    from ioc.sim.sinks import JetStreamSink, MqttSink, ReadingSink

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        endpoint = parse_mqtt_url(args.mqtt_url)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"ioc simulate: {exc}", file=sys.stderr)
        return 2
    sink: ReadingSink = (
        JetStreamSink(args.nats_url.split(","), "ioc-simulate")
        if args.transport == "jetstream"
        else MqttSink(endpoint, "ioc-simulate", protocol=args.mqtt_protocol)
    )
    simulator = SensorSimulator(config, endpoint, args.interval, args.time_scale, args.season, sink=sink)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    simulator.start()
    print(f"simulating {len(simulator.sensors)} sensors to {sink.description}; Ctrl-C stops")
    stop.wait()
    simulator.stop()
    print(f"published {simulator.stats.published} readings")
    return 0
