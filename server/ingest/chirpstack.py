"""LoRaWAN uplinks from a ChirpStack v4 network server (its MQTT integration, JSON marshaler).

ChirpStack publishes each uplink on `application/<application_id>/device/<dev_eui>/event/up`:
`{"time": ..., "deviceInfo": {"devEui": ...}, "fCnt": 7, "object": {<decoded values>}, ...}`.
A device may carry several sensors (salinity and water level on one node): each sensor with the
`chirpstack` format names its device and the path of its value under `object`.

A frame seen again (the same `devEui` and `fCnt`: a repeated uplink, a second integration) is
given the time of its first sighting, so the store's (sensor, time) key keeps it once; this is
idempotent when a batch is decoded again, and a frame counter that restarts after a re-join
(a later time beyond `duplicate_window`) is a new frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from contract.config import Sensor
from contract.config.sensors import ChirpStackPayload
from contract.jsonpath import parse_json_path, resolve_json_path
from server.ingest.decode import DecodeSink, ReadingValidator, as_time, parse_json
from server.ingest.errors import Reason, Rejected
from server.ingest.localvalues import parse_decimal_comma, read_quality

UPLINK_SUFFIX = "/event/up"


class FrameLog:
    """The first time each recent (devEui, fCnt) was seen; bounded, oldest forgotten first (a
    repeat after that, or after a restart, may be stored a second time under its own time)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._first: OrderedDict[tuple[str, int], datetime] = OrderedDict()
        self.repeats = 0

    def time_of(self, dev_eui: str, fcnt: int, time: datetime, window_s: float) -> datetime:
        key = (dev_eui, fcnt)
        first = self._first.get(key)
        if first is not None and abs((time - first).total_seconds()) <= window_s:
            self.repeats += 1
            return first
        self._first[key] = time
        self._first.move_to_end(key)
        if len(self._first) > self._capacity:
            self._first.popitem(last=False)
        return time


class ChirpStackUplinks:
    """The uplink topics of the configured applications, and their decoding into readings."""

    def __init__(self, sensors: Iterable[Sensor], frames: FrameLog) -> None:
        self._frames = frames
        self._by_device: dict[str, list[tuple[Sensor, ChirpStackPayload]]] = {}
        applications: set[str] = set()
        for sensor in sensors:
            if isinstance(sensor.payload, ChirpStackPayload):
                self._by_device.setdefault(sensor.payload.dev_eui.lower(), []).append((sensor, sensor.payload))
                applications.add(sensor.payload.application_id)
        self._applications = sorted(applications)

    def subscriptions(self) -> list[str]:
        return [f"application/{application}/device/+/event/up" for application in self._applications]

    def handles(self, topic: str) -> bool:
        return bool(self._applications) and topic.startswith("application/") and topic.endswith(UPLINK_SUFFIX)

    def decode(self, payload: bytes, validator: ReadingValidator, received_at: datetime, sink: DecodeSink) -> None:
        """Every reading of one uplink into `sink`; a message-level problem raises `Rejected`."""
        document = parse_json(payload)
        if not isinstance(document, dict):
            raise Rejected(Reason.WRONG_TYPE, "a ChirpStack uplink is a JSON object")
        dev_eui = _dev_eui(document)
        sensors = self._by_device.get(dev_eui)
        if not sensors:
            raise Rejected(Reason.UNKNOWN_SENSOR, f"no sensor in streams.yaml has dev_eui '{dev_eui[:32]}'")
        decoded = document.get("object")
        if not isinstance(decoded, dict):
            raise Rejected(
                Reason.MISSING_FIELD, "uplink has no decoded 'object' (is a codec set on the device profile?)"
            )
        time = as_time(document.get("time"), received_at, validator.max_skew)
        fcnt = document.get("fCnt")
        if type(fcnt) is int:  # the frame's first time, so a repeat lands on the same (sensor, time) key
            window = max(mapping.duplicate_window.total_seconds() for _sensor, mapping in sensors)
            time = self._frames.time_of(dev_eui, fcnt, time, window)
        for sensor, mapping in sensors:
            try:
                value = _value(decoded, mapping)
                quality = read_quality(decoded, mapping)
            except Rejected as rejected:
                sink.rejected.append((sensor.id, rejected))
                continue
            validator.accept_into(sink, sensor, (value, time, quality), received_at)


def _dev_eui(document: dict[str, Any]) -> str:
    info = document.get("deviceInfo")
    dev_eui = info.get("devEui") if isinstance(info, dict) else None
    if not isinstance(dev_eui, str):
        raise Rejected(Reason.MISSING_FIELD, "uplink needs 'deviceInfo.devEui'")
    return dev_eui.lower()


def _value(decoded: dict[str, Any], mapping: ChirpStackPayload) -> Any:
    try:
        value = resolve_json_path(decoded, parse_json_path(mapping.value_path))
    except KeyError as exc:
        raise Rejected(Reason.MISSING_FIELD, f"JSON path step {exc} not found under 'object'") from exc
    return parse_decimal_comma(value) if mapping.decimal_comma else value
