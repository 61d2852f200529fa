"""Encode a simulated reading the way the sensor's `payload` mapping expects to receive it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from contract.config.sensors import FiwarePayload, JsonPathPayload, NumberPayload, Sensor
from contract.jsonpath import PathStep, parse_json_path
from contract.timeutil import isoformat_z
from contract.topics import Topics


def _place(document: dict[str, Any], steps: tuple[PathStep, ...], value: object) -> None:
    """Put `value` at `steps` in `document`, creating objects and lists on the way."""
    current: Any = document
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        container: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            while len(current) <= step:
                current.append(None)
            if following is None:
                current[step] = value
            else:
                current[step] = current[step] if current[step] is not None else container
                current = current[step]
        elif following is None:
            current[step] = value
        else:
            current = current.setdefault(step, container)


def encode_reading(sensor: Sensor, value: float, at: datetime) -> bytes:
    """The raw value in the sensor's own unit (before `convert`), in its payload format."""
    raw = value
    if sensor.convert is not None:
        raw = (value - sensor.convert.offset) / sensor.convert.scale
    mapping = sensor.payload
    if isinstance(mapping, NumberPayload):
        return f"{raw:g}".encode()
    if isinstance(mapping, JsonPathPayload):
        document: dict[str, Any] = {}
        _place(document, parse_json_path(mapping.value_path), raw)
        if mapping.time_path is not None:
            _place(document, parse_json_path(mapping.time_path), isoformat_z(at))
        return json.dumps(document).encode()
    if isinstance(mapping, FiwarePayload):
        entity_id = mapping.entity_id or f"urn:ngsi-ld:{mapping.entity_type}:{sensor.id}"
        entity = {
            "id": entity_id,
            "type": mapping.entity_type,
            "dateObserved": {"type": "DateTime", "value": isoformat_z(at)},
            mapping.attribute: {"type": "Number", "value": raw},
        }
        return json.dumps(entity).encode()
    return json.dumps({"v": 1, "value": raw, "ts": isoformat_z(at), "unit": sensor.unit}, ensure_ascii=False).encode()


def topic_for(sensor: Sensor, topics: Topics) -> str:
    return topics.sensor_topic(sensor)
