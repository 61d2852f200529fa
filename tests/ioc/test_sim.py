"""The Mekong sensor simulator: realistic shapes, reproducible values, real MQTT publishing."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from contract.config import load_config, parse_config
from contract.mqtturl import parse_mqtt_url
from contract.topics import Topics
from ioc.sim.encode import encode_reading
from ioc.sim.mekong import SimulatedStation, pm25_ugm3, salinity_ppt, simulate, water_level_m
from ioc.sim.publisher import SensorSimulator
from tests.fixtures.services import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
MOUTH = SimulatedStation("sal-mouth", "salinity", exposure=1.25)


def _series(function: object, start: datetime, hours: float, step_minutes: int = 10) -> list[float]:
    assert callable(function)
    steps = int(hours * 60 / step_minutes)
    return [function(MOUTH, start + timedelta(minutes=step_minutes * i)) for i in range(steps)]


def test_dry_season_salinity_crosses_4ppt_and_wet_season_stays_fresh() -> None:
    march = _series(salinity_ppt, datetime(2026, 3, 15, tzinfo=UTC), 24)
    september = _series(salinity_ppt, datetime(2026, 9, 15, tzinfo=UTC), 24)
    assert max(march) > 4.0 > min(march)
    assert max(september) < 1.0


def test_salinity_has_two_tidal_highs_a_day() -> None:
    values = _series(salinity_ppt, datetime(2026, 3, 15, tzinfo=UTC), 24.84, step_minutes=15)
    threshold = (max(values) + min(values)) / 2
    upward_crossings = sum(1 for a, b in itertools.pairwise(values) if a < threshold <= b)
    assert upward_crossings == 2


def test_water_level_and_pm25_shapes() -> None:
    levels = _series(water_level_m, datetime(2026, 3, 15, tzinfo=UTC), 25)
    assert max(levels) - min(levels) > 1.5, "a Mekong tide range is metres, not centimetres"
    morning_rush = pm25_ugm3(MOUTH, datetime(2026, 3, 15, 0, 0, tzinfo=UTC))  # 07:00 in Sóc Trăng
    small_hours = pm25_ugm3(MOUTH, datetime(2026, 3, 14, 20, 0, tzinfo=UTC))  # 03:00
    assert morning_rush > small_hours + 25


def test_values_are_reproducible() -> None:
    at = datetime(2026, 3, 15, 5, 7, tzinfo=UTC)
    assert simulate(MOUTH, at) == simulate(MOUTH, at)


def test_encoding_follows_each_sensor_mapping() -> None:
    config = load_config(ROOT / "streams.yaml", env={})
    at = datetime(2026, 3, 15, tzinfo=UTC)
    payloads = {s.id: encode_reading(s, 1.5, at) for s in config.sensors}
    assert json.loads(payloads["sal-long-phu"])["value"] == 1.5
    assert json.loads(payloads["sal-tran-de"]) == {"data": {"sal_ppt": 1.5, "time": "2026-03-15T00:00:00.000Z"}}
    assert json.loads(payloads["level-tran-de"]) == {"level_cm": 150.0}, "convert scale 0.01: raw is in cm"
    fiware = json.loads(payloads["sal-dai-ngai"])
    assert fiware["type"] == "WaterQualityObserved" and fiware["salinity"]["value"] == 1.5


def test_simulator_publishes_every_sensor_over_mqtt(mqtt_broker: MosquittoBroker, topic_prefix: str) -> None:
    text = (ROOT / "streams.yaml").read_text().replace("topic_prefix: ioc", f"topic_prefix: {topic_prefix}")
    config = parse_config(text, env={})
    topics = Topics(topic_prefix)
    expected = {topics.sensor_topic(s) for s in config.sensors}
    received: dict[str, bytes] = {}
    all_seen = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        received[message.topic] = message.payload
        if expected <= set(received):
            all_seen.set()

    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_message = on_message
    listener.connect(mqtt_broker.host, mqtt_broker.port)
    for topic in expected:
        listener.subscribe(topic, qos=1)
    listener.loop_start()
    simulator = SensorSimulator(config, parse_mqtt_url(mqtt_broker.url), interval=0.2, time_scale=60)
    simulator.start()
    try:
        assert all_seen.wait(10), f"missing topics: {expected - set(received)}"
    finally:
        simulator.stop()
        listener.loop_stop()
        listener.disconnect()
    assert simulator.stats.published >= len(expected)
    assert simulator.stats.refused == 0
