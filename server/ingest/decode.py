"""Sensor payloads to readings, per the sensor's mapping in streams.yaml; every rule that rejects
a reading raises `Rejected` with the dead-letter reason."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contract.config import Sensor
from contract.config.sensors import FiwarePayload, JsonPathPayload
from contract.jsonpath import parse_json_path, resolve_json_path
from contract.timeutil import parse_timestamp
from server.ingest.errors import Reason, Rejected
from server.ingest.fiware import entities_of, read_entity
from server.store.records import StoredReading

RawReading = tuple[Any, Any]  # (value, time or None) as found in the payload


@dataclass(frozen=True)
class SensorReadingOutcome:
    """One raw reading of a message: stored as `reading`, or rejected with `rejected`."""

    sensor_id: str | None
    reading: StoredReading | None = None
    rejected: Rejected | None = None


def parse_json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(Reason.MALFORMED_JSON, f"not JSON: {exc}") from exc


def as_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(Reason.WRONG_TYPE, f"value must be a number, got {type(value).__name__} {str(value)[:40]!r}")
    number = float(value)
    if not math.isfinite(number):
        raise Rejected(Reason.NOT_FINITE, f"value {number} is not a finite number")
    return number


def as_time(value: Any, received_at: datetime, max_skew: timedelta) -> datetime:
    if value is None:
        return received_at
    try:
        time = parse_timestamp(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise Rejected(Reason.BAD_TIME, str(exc)) from exc
    if time - received_at > max_skew:
        raise Rejected(Reason.FUTURE_TIME, f"time {time.isoformat()} is more than {max_skew} after arrival")
    return time


class ReadingValidator:
    """Unit conversion then range check, in the sensor's stored unit."""

    def __init__(self, max_future_skew: timedelta) -> None:
        self.max_skew = max_future_skew

    def accept(self, sensor: Sensor, raw: RawReading, received_at: datetime) -> StoredReading:
        value = as_number(raw[0])
        if sensor.convert is not None:
            value = value * sensor.convert.scale + sensor.convert.offset
        if sensor.range is not None and not sensor.range.min <= value <= sensor.range.max:
            raise Rejected(
                Reason.OUT_OF_RANGE, f"{value:g} {sensor.unit} outside [{sensor.range.min:g}, {sensor.range.max:g}]"
            )
        return StoredReading(sensor.id, as_time(raw[1], received_at, self.max_skew), value, received_at)


def _native(document: Any) -> list[RawReading]:
    if isinstance(document, dict):
        if "value" not in document:
            raise Rejected(Reason.MISSING_FIELD, "native payload needs 'value' (or 'readings' for a batch)")
        return [(document["value"], document.get("ts"))]
    return [(document, None)]


def _json_path(document: Any, mapping: JsonPathPayload) -> list[RawReading]:
    try:
        value = resolve_json_path(document, parse_json_path(mapping.value_path))
        time = resolve_json_path(document, parse_json_path(mapping.time_path)) if mapping.time_path else None
    except KeyError as exc:
        raise Rejected(Reason.MISSING_FIELD, f"JSON path step {exc} not found") from exc
    return [(value, time)]


def _fiware(document: Any, mapping: FiwarePayload) -> list[RawReading]:
    return [read_entity(entity, mapping) for entity in entities_of(document)]


def raw_readings(sensor: Sensor, payload: bytes) -> list[RawReading]:
    """The raw (value, time) pairs in a message for `sensor`, per its payload mapping."""
    mapping = sensor.payload
    if mapping.format == "number":
        text = payload.decode("utf-8", errors="replace").strip()
        try:
            return [(float(text), None)]
        except ValueError as exc:
            raise Rejected(Reason.WRONG_TYPE, f"payload {text[:40]!r} is not a number") from exc
    document = parse_json(payload)
    if isinstance(mapping, JsonPathPayload):
        return _json_path(document, mapping)
    if isinstance(mapping, FiwarePayload):
        return _fiware(document, mapping)
    return _native(document)


def batch_readings(document: dict[str, Any]) -> list[tuple[Any, RawReading]]:
    """A gateway batch `{"readings": [{"sensor": id, "value": v, "ts": t}, ...]}`."""
    items = document.get("readings")
    if not isinstance(items, list) or not items:
        raise Rejected(Reason.WRONG_TYPE, "'readings' must be a non-empty list")
    result: list[tuple[Any, RawReading]] = []
    for item in items:
        if not isinstance(item, dict) or "sensor" not in item or "value" not in item:
            result.append((None, (None, None)))
        else:
            result.append((item["sensor"], (item["value"], item.get("ts"))))
    return result


def decode_batch(
    document: dict[str, Any],
    find_sensor: Callable[[str], Sensor | None],
    validator: ReadingValidator,
    received_at: datetime,
) -> list[SensorReadingOutcome]:
    outcomes: list[SensorReadingOutcome] = []
    for sensor_id, raw in batch_readings(document):
        sensor = find_sensor(sensor_id) if isinstance(sensor_id, str) else None
        if sensor_id is None:
            rejected = Rejected(Reason.MISSING_FIELD, "batch item needs 'sensor' and 'value'")
            outcomes.append(SensorReadingOutcome(None, rejected=rejected))
        elif sensor is None:
            rejected = Rejected(Reason.UNKNOWN_SENSOR, f"sensor '{str(sensor_id)[:64]}' is not in streams.yaml")
            outcomes.append(SensorReadingOutcome(None, rejected=rejected))
        else:
            outcomes.append(_accept_one(validator, sensor, raw, received_at))
    return outcomes


def _accept_one(
    validator: ReadingValidator, sensor: Sensor, raw: RawReading, received_at: datetime
) -> SensorReadingOutcome:
    try:
        return SensorReadingOutcome(sensor.id, reading=validator.accept(sensor, raw, received_at))
    except Rejected as rejected:
        return SensorReadingOutcome(sensor.id, rejected=rejected)


def decode_sensor(
    sensor: Sensor, payload: bytes, validator: ReadingValidator, received_at: datetime
) -> list[SensorReadingOutcome]:
    """Every reading of a message on a sensor's topic; a message-level problem rejects it whole."""
    try:
        raws = raw_readings(sensor, payload)
    except Rejected as rejected:
        return [SensorReadingOutcome(sensor.id, rejected=rejected)]
    return [_accept_one(validator, sensor, raw, received_at) for raw in raws]
