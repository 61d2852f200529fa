"""The province's existing loggers in the simulator and the demo: a TT 10/2021 station
delivering files over FTP, a LoRaWAN node behind ChirpStack v4, and a Tasmota node whose clock
has no UTC offset. `LoggerSimulator` feeds the sensors that `SensorSimulator` leaves to it."""

from __future__ import annotations

import ftplib
import io
import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.config import Sensor, StreamsConfig
from contract.config.sensors import ChirpStackPayload, JsonPathPayload
from contract.config.stations import Station
from contract.jsonpath import parse_json_path
from contract.mqtturl import MqttEndpoint
from contract.timeutil import isoformat_z, utc_now
from ioc.sim.encode import _place
from ioc.sim.mekong import simulate, station_for

log = logging.getLogger(__name__)

TASMOTA_TIME_PATH = "$.Time"  # Tasmota's `tele/<node>/SENSOR` field: local time, no offset
DEMO_STATION_PASSWORD = "demo-station-ftp"  # the demo only; a real station's comes from ${ENV}
DEMO_DEV_EUI = "a84041000181c7e1"

DEMO_STATIONS_YAML = f"""\
stations:
  - id: tt10-long-phu
    name: Trạm quan trắc tự động Long Phú (TT 10/2021)
    site: long-phu
    ftp: {{username: longphu, password: "{DEMO_STATION_PASSWORD}"}}
"""

DEMO_LOGGER_SENSORS_YAML = f"""\
  - {{id: cl-long-phu, name: Clorua - trạm Long Phú, kind: other, unit: mg/L, site: long-phu,
     station: tt10-long-phu, parameter: Cl, expected_interval: 5s, location: {{lat: 9.6170, lon: 106.1330}}}}
  - {{id: sal-st-long-phu, name: Độ mặn - trạm Long Phú, kind: salinity, unit: "‰", site: long-phu,
     station: tt10-long-phu, parameter: Độ mặn, range: {{min: 0, max: 45}}, expected_interval: 5s}}
  - id: sal-lora-tran-de
    name: Độ mặn - nút LoRaWAN Trần Đề
    kind: salinity
    unit: "‰"
    site: tran-de
    payload: {{format: chirpstack, application_id: demo-salinity, dev_eui: "{DEMO_DEV_EUI}", value_path: $.salinity}}
    range: {{min: 0, max: 45}}
    expected_interval: 5s
    location: {{lat: 9.5000, lon: 106.2100}}
  - id: temp-tasmota-city
    name: Nhiệt độ - nút Tasmota
    kind: temperature
    unit: "°C"
    site: soc-trang-city
    topic: tele/tasmota_7a1b/SENSOR
    payload: {{format: json, value_path: $.DS18B20.Temperature, time_path: $.Time}}
    expected_interval: 5s
"""


def with_demo_loggers(sensors_and_rules: str) -> str:
    """The demo's sensors-and-rules text with the loggers' sensors added and their stations declared."""
    return DEMO_STATIONS_YAML + sensors_and_rules.replace(
        "\nrules:\n", "\n" + DEMO_LOGGER_SENSORS_YAML + "\nrules:\n", 1
    )


def is_tasmota(sensor: Sensor) -> bool:
    return isinstance(sensor.payload, JsonPathPayload) and sensor.payload.time_path == TASMOTA_TIME_PATH


def fed_by_loggers(sensor: Sensor) -> bool:
    """Sensors the LoggerSimulator feeds (station files, ChirpStack, Tasmota), not SensorSimulator."""
    return sensor.station is not None or isinstance(sensor.payload, ChirpStackPayload) or is_tasmota(sensor)


def raw_value(sensor: Sensor, value: float) -> float:
    if sensor.convert is None:
        return value
    return (value - sensor.convert.offset) / sensor.convert.scale


def station_file(
    station: Station, sensors: list[Sensor], values: dict[str, float], at: datetime, zone: ZoneInfo
) -> bytes:
    stamp = at.astimezone(zone).strftime("%Y%m%d%H%M%S")
    lines = [f"{s.parameter}|{raw_value(s, values[s.id]):.3f}|{s.unit}|{stamp}|00" for s in sensors]
    return ("\r\n".join(lines) + "\r\n").encode()


def chirpstack_uplink(mapping: ChirpStackPayload, decoded: dict[str, Any], fcnt: int, at: datetime) -> bytes:
    return json.dumps(
        {
            "time": isoformat_z(at),
            "deviceInfo": {"applicationId": mapping.application_id, "devEui": mapping.dev_eui, "deviceName": "sim"},
            "fCnt": fcnt,
            "fPort": 2,
            "object": decoded,
        }
    ).encode()


def tasmota_sensor(mapping: JsonPathPayload, value: float, at: datetime, zone: ZoneInfo) -> bytes:
    document: dict[str, Any] = {"Time": at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")}
    _place(document, parse_json_path(mapping.value_path), value)
    return json.dumps(document).encode()


class LoggerSimulator:
    """Every `interval` seconds: one file per FTP station, one uplink per LoRaWAN device, one
    Tasmota message per node."""

    def __init__(
        self,
        config: StreamsConfig,
        endpoint: MqttEndpoint,
        ftp_address: tuple[str, int] | None,
        interval: float = 5.0,
        time_scale: float = 60.0,
        season: float | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.sensors = [s for s in config.sensors if s.enabled and fed_by_loggers(s)]
        self._stations = {s.id: station_for(s) for s in self.sensors}
        self._ftp = ftp_address
        self.interval, self.time_scale, self.season, self.clock = interval, time_scale, season, clock
        self.files_sent = self.messages_sent = self.failures = 0
        self._fcnt = 0
        self._stop = threading.Event()
        self._endpoint = endpoint
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ioc-loggers-{id(self):x}")
        self._client.max_queued_messages_set(1000)
        if endpoint.username:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:
            self._client.tls_set()

    def _zone(self, site_id: str) -> ZoneInfo:
        site = self.config.site(site_id)
        return ZoneInfo(site.timezone if site else "UTC")

    def send_once(self) -> None:
        at = self.clock()
        values = {s.id: simulate(self._stations[s.id], at, self.time_scale, self.season) for s in self.sensors}
        self._send_files(values, at)
        self._fcnt += 1
        uplinks: dict[str, tuple[ChirpStackPayload, dict[str, Any]]] = {}
        for sensor in self.sensors:
            mapping = sensor.payload
            if isinstance(mapping, ChirpStackPayload):
                decoded = uplinks.setdefault(mapping.uplink_topic, (mapping, {}))[1]
                _place(decoded, parse_json_path(mapping.value_path), round(raw_value(sensor, values[sensor.id]), 3))
            elif isinstance(mapping, JsonPathPayload) and sensor.topic is not None:
                payload = tasmota_sensor(
                    mapping, round(raw_value(sensor, values[sensor.id]), 2), at, self._zone(sensor.site)
                )
                self._publish(sensor.topic, payload)
        for topic, (mapping, decoded) in uplinks.items():
            self._publish(topic, chirpstack_uplink(mapping, decoded, self._fcnt, at))

    def _publish(self, topic: str, payload: bytes) -> None:
        if self._client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS:
            self.messages_sent += 1
        else:
            self.failures += 1

    def _send_files(self, values: dict[str, float], at: datetime) -> None:
        if self._ftp is None:
            return
        for station in self.config.stations:
            sensors = [s for s in self.sensors if s.station == station.id]
            if station.ftp is None or not sensors:
                continue
            data = station_file(station, sensors, values, at, self._zone(station.site))
            name = f"{station.id.upper()}_{at.astimezone(self._zone(station.site)).strftime('%Y%m%d%H%M%S')}.txt"
            try:
                with ftplib.FTP() as ftp:
                    ftp.connect(self._ftp[0], self._ftp[1], timeout=10)
                    ftp.login(station.ftp.username, station.ftp.password.get_secret_value())
                    ftp.storbinary(f"STOR {name}", io.BytesIO(data))
                self.files_sent += 1
            except (OSError, ftplib.Error) as exc:
                self.failures += 1
                if self.failures == 1:
                    log.warning(
                        "station %s: FTP upload failed (%s); retrying every %.1fs", station.id, exc, self.interval
                    )

    def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port)
        self._client.loop_start()
        threading.Thread(target=self._run, name="logger-simulator", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._client.is_connected():
                self.send_once()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()


class LoggerSimulatorService:
    """The logger simulator as a demo service."""

    def __init__(self, simulator: LoggerSimulator) -> None:
        self.simulator = simulator
        self.url = ""
        self.description = f"{len(simulator.sensors)} simulated logger sensors (FTP station, LoRaWAN, Tasmota)"

    def stop(self) -> None:
        self.simulator.stop()


def start_demo_loggers(
    config: StreamsConfig, endpoint: MqttEndpoint, ftp_address: tuple[str, int], time_scale: float
) -> LoggerSimulatorService:
    simulator = LoggerSimulator(config, endpoint, ftp_address, interval=2.0, time_scale=time_scale, season=1.0)
    simulator.start()
    return LoggerSimulatorService(simulator)
