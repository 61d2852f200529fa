"""Sensor payloads to readings, per the sensor's mapping in streams.yaml; every rule that rejects
a reading raises `Rejected` with the dead-letter reason."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from contract.config import Sensor, Site
from contract.config.sensors import FiwarePayload, JsonPathPayload
from contract.jsonpath import parse_json_path, resolve_json_path
from contract.numbers import parse_number
from contract.timeutil import parse_timestamp
from server.ingest.errors import Reason, Rejected
from server.ingest.fiware import entities_of, read_entity
from server.ingest.jsonlimits import DEFAULT_MAX_DEPTH, check_depth
from server.ingest.localvalues import localize_time, parse_decimal_comma, read_quality
from server.store.records import NORMAL, StoredReading

RawReading = tuple[Any, Any] | tuple[Any, Any, str]  # (value, time or None[, quality flag]) as found
_INT_LIMIT = 2**53  # integers a float holds exactly


@dataclass(slots=True)
class DecodeSink:
    """Where decoding puts its results: accepted readings (appended in place to the batch's list)
    and rejected ones with their sensor id (for dead letters). No per-reading outcome objects."""

    readings: list[StoredReading]
    rejected: list[tuple[str | None, Rejected]] = field(default_factory=list)


def parse_json(payload: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """orjson first (3x faster); the standard parser for what orjson refuses but JSON-ish
    senders do send (NaN/Infinity become `not_finite` later, UTF-16 text, huge integers).
    Nesting is checked first (`jsonlimits`): no parser ever sees a document deeper than `max_depth`."""
    check_depth(payload, max_depth)
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:
        encoding = json.detect_encoding(payload)
        text = payload.decode(encoding)
    except UnicodeDecodeError as exc:
        raise Rejected(Reason.MALFORMED_JSON, f"not JSON: {exc}") from exc
    if encoding not in ("utf-8", "utf-8-sig"):  # the depth was measured on bytes read as UTF-8
        check_depth(text.encode(), max_depth)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED_JSON, f"not JSON: {exc}") from exc
    except RecursionError as exc:  # cannot happen after check_depth; kept so that it never escapes
        raise Rejected(Reason.TOO_DEEP, "JSON nested too deep to parse") from exc


def as_number(value: Any) -> float:
    kind = type(value)
    if kind is float and math.isfinite(value):  # the common cases first, without the checks below
        return value  # type: ignore[no-any-return]
    if kind is int and -_INT_LIMIT < value < _INT_LIMIT:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(Reason.WRONG_TYPE, f"value must be a number, got {type(value).__name__} {str(value)[:40]!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise Rejected(Reason.NOT_FINITE, f"value {number} is not a finite number")
    return number


def _parse_time(value: Any) -> datetime:
    if type(value) is str:
        try:
            fast = datetime.fromisoformat(value)  # 3.11: 'Z' and '+00:00' read as UTC directly
        except ValueError:
            fast = None
        if fast is not None and fast.tzinfo is UTC:
            return fast
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise Rejected(Reason.BAD_TIME, str(exc)) from exc


def as_time(value: Any, received_at: datetime, max_skew: timedelta) -> datetime:
    if value is None:
        return received_at
    time = _parse_time(value)
    if time - received_at > max_skew:
        raise Rejected(Reason.FUTURE_TIME, f"time {time.isoformat()} is more than {max_skew} after arrival")
    return time


class ReadingValidator:
    """Unit conversion then range check, in the sensor's stored unit."""

    def __init__(self, max_future_skew: timedelta) -> None:
        self.max_skew = max_future_skew
        self._site_zones: dict[str, ZoneInfo] = {}

    def set_sites(self, sites: list[Site]) -> None:
        """The sites' time zones: the default zone of payload times without an offset."""
        self._site_zones = {site.id: ZoneInfo(site.timezone) for site in sites}

    def zone_for(self, sensor: Sensor, override: str | None = None) -> ZoneInfo:
        return ZoneInfo(override) if override else self._site_zones.get(sensor.site, ZoneInfo("UTC"))

    def accept(
        self, sensor: Sensor, raw_value: Any, raw_time: Any, received_at: datetime, quality: str = NORMAL
    ) -> StoredReading:
        if not sensor.enabled:  # on its own topic, through a gateway or in a batch alike
            raise Rejected(Reason.DISABLED_SENSOR, f"sensor '{sensor.id}' is disabled in streams.yaml")
        value = as_number(raw_value)
        convert = sensor.convert
        if convert is not None:
            value = value * convert.scale + convert.offset
            if not math.isfinite(value):
                raise Rejected(Reason.NOT_FINITE, f"value {raw_value!r} converted to {sensor.unit} is not finite")
        bounds = sensor.range
        if bounds is not None and not bounds.min <= value <= bounds.max:
            raise Rejected(Reason.OUT_OF_RANGE, f"{value:g} {sensor.unit} outside [{bounds.min:g}, {bounds.max:g}]")
        return StoredReading(sensor.id, as_time(raw_time, received_at, self.max_skew), value, received_at, quality)

    def accept_into(self, sink: DecodeSink, sensor: Sensor, raw: RawReading, received_at: datetime) -> None:
        try:
            quality = raw[2] if len(raw) == 3 else NORMAL
            sink.readings.append(self.accept(sensor, raw[0], raw[1], received_at, quality))
        except Rejected as rejected:
            sink.rejected.append((sensor.id, rejected))


def _native(document: Any) -> list[RawReading]:
    if isinstance(document, dict):
        if "value" not in document:
            raise Rejected(Reason.MISSING_FIELD, "native payload needs 'value' (or 'readings' for a batch)")
        return [(document["value"], document.get("ts"))]
    return [(document, None)]


def _json_path(document: Any, mapping: JsonPathPayload, zone: ZoneInfo) -> list[RawReading]:
    try:
        value = resolve_json_path(document, parse_json_path(mapping.value_path))
        time = resolve_json_path(document, parse_json_path(mapping.time_path)) if mapping.time_path else None
    except KeyError as exc:
        raise Rejected(Reason.MISSING_FIELD, f"JSON path step {exc} not found") from exc
    if mapping.decimal_comma:
        value = parse_decimal_comma(value)
    return [(value, localize_time(time, zone), read_quality(document, mapping))]


def _fiware(document: Any, mapping: FiwarePayload) -> list[RawReading]:
    return [read_entity(entity, mapping) for entity in entities_of(document)]


def raw_readings(sensor: Sensor, payload: bytes, zone: ZoneInfo | None = None) -> list[RawReading]:
    """The raw (value, time) pairs in a message for `sensor`, per its payload mapping; `zone`:
    of times without an offset (JSON path payloads)."""
    mapping = sensor.payload
    if mapping.format == "number":
        text = payload.decode("utf-8", errors="replace").strip()
        if mapping.decimal_comma:
            return [(parse_decimal_comma(text), None)]
        try:
            return [(parse_number(text), None)]
        except ValueError as exc:
            raise Rejected(Reason.WRONG_TYPE, f"payload {text[:40]!r} is not a number") from exc
    document = parse_json(payload)
    if isinstance(mapping, JsonPathPayload):
        return _json_path(document, mapping, zone or ZoneInfo(mapping.timezone or "UTC"))
    if isinstance(mapping, FiwarePayload):
        return _fiware(document, mapping)
    return _native(document)


def decode_batch(
    document: dict[str, Any],
    find_sensor: Callable[[str], Sensor | None],
    validator: ReadingValidator,
    received_at: datetime,
    sink: DecodeSink,
) -> None:
    """A gateway batch `{"readings": [{"sensor": id, "value": v, "ts": t}, ...]}` into `sink`."""
    items = document.get("readings")
    if not isinstance(items, list) or not items:
        raise Rejected(Reason.WRONG_TYPE, "'readings' must be a non-empty list")
    accept, readings, rejected = validator.accept, sink.readings, sink.rejected
    for item in items:
        if type(item) is not dict or item.get("sensor") is None or "value" not in item:
            rejected.append((None, Rejected(Reason.MISSING_FIELD, "batch item needs 'sensor' and 'value'")))
            continue
        sensor_id = item["sensor"]
        sensor = find_sensor(sensor_id) if type(sensor_id) is str else None
        if sensor is None:
            reason = Rejected(Reason.UNKNOWN_SENSOR, f"sensor '{str(sensor_id)[:64]}' is not in streams.yaml")
            rejected.append((None, reason))
            continue
        try:
            readings.append(accept(sensor, item["value"], item.get("ts"), received_at))
        except Rejected as problem:
            rejected.append((sensor.id, problem))


def decode_sensor(
    sensor: Sensor, payload: bytes, validator: ReadingValidator, received_at: datetime, sink: DecodeSink
) -> None:
    """Every reading of a message on a sensor's topic; a message-level problem rejects it whole."""
    try:
        mapping = sensor.payload
        zone = validator.zone_for(sensor, mapping.timezone) if isinstance(mapping, JsonPathPayload) else None
        raws = raw_readings(sensor, payload, zone)
    except Rejected as rejected:
        sink.rejected.append((sensor.id, rejected))
        return
    for raw in raws:
        validator.accept_into(sink, sensor, raw, received_at)
