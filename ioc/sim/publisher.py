"""Publish simulated readings for every sensor in a config until stopped: over real MQTT, or
natively into NATS JetStream (`ioc.sim.sinks`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from contract.config import StreamsConfig
from contract.jetstream import reading_msg_id
from contract.mqtturl import MqttEndpoint
from contract.timeutil import utc_now
from contract.topics import Topics
from ioc.sim.encode import encode_reading
from ioc.sim.mekong import SimulatedStation, simulate, station_for
from ioc.sim.sinks import MqttSink, ReadingSink
from ioc.sim.stations import fed_by_loggers

log = logging.getLogger(__name__)


@dataclass
class SimulatorStats:
    published: int = 0
    refused: int = 0
    last_values: dict[str, float] = field(default_factory=dict)


class SensorSimulator:
    """Publishes each enabled sensor of `config` every `interval` seconds (QoS 1)."""

    def __init__(
        self,
        config: StreamsConfig,
        endpoint: MqttEndpoint,
        interval: float = 5.0,
        time_scale: float = 60.0,
        season: float | None = None,
        clock: Callable[[], datetime] = utc_now,
        sink: ReadingSink | None = None,
    ) -> None:
        self.topics = Topics(config.mqtt.topic_prefix)
        self.sensors = [sensor for sensor in config.sensors if sensor.enabled and not fed_by_loggers(sensor)]
        self.stations: dict[str, SimulatedStation] = {s.id: station_for(s) for s in self.sensors}
        self.interval = interval
        self.time_scale = time_scale
        self.season = season
        self.clock = clock
        self.stats = SimulatorStats()
        self._stop = threading.Event()
        self.sink = sink or MqttSink(endpoint, f"ioc-sim-{id(self):x}")

    def publish_once(self) -> int:
        """One reading per sensor, now. Returns how many were accepted by the client queue."""
        at = self.clock()
        accepted = 0
        for sensor in self.sensors:
            value = simulate(self.stations[sensor.id], at, self.time_scale, self.season)
            payload = encode_reading(sensor, value, at)
            if self.sink.publish(self.topics.sensor_topic(sensor), payload, reading_msg_id(sensor.id, at)):
                accepted += 1
                self.stats.last_values[sensor.id] = value
            else:
                self.stats.refused += 1
                log.warning("simulator: reading for %s refused by %s", sensor.id, self.sink.description)
        self.stats.published += accepted
        return accepted

    def start(self) -> None:
        self.sink.start()
        threading.Thread(target=self._run, name="sensor-simulator", daemon=True).start()
        log.info("simulating %d sensors every %.1fs (time x%g)", len(self.sensors), self.interval, self.time_scale)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.sink.connected():
                self.publish_once()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self.sink.stop()
