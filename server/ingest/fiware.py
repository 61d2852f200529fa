"""FIWARE Smart Data Models (WaterQualityObserved, AirQualityObserved, ...) to (time, value).

Accepted shapes, detected per entity:
- NGSI-v2 normalized: `"salinity": {"type": "Number", "value": 3.2}`, `"dateObserved": {"value": ...}`
- NGSI-v2 keyValues:  `"salinity": 3.2`, `"dateObserved": "2026-..."`
- NGSI-LD:            `"salinity": {"type": "Property", "value": 3.2, "observedAt": "..."}`,
                      `"dateObserved": {"type": "Property", "value": {"@type": "DateTime", "@value": "..."}}`
A single entity, a list of entities, or a notification `{"data": [entity, ...]}` (v2 and LD).
"""

from __future__ import annotations

from typing import Any

from contract.config.sensors import FiwarePayload
from server.ingest.errors import Reason, Rejected


def entities_of(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("data"), list) and "type" not in document:
        items: list[Any] = document["data"]
    elif (
        isinstance(document, dict) and document.get("type") == "Notification" and isinstance(document.get("data"), list)
    ):
        items = document["data"]
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    if not items or not all(isinstance(item, dict) for item in items):
        raise Rejected(Reason.WRONG_TYPE, "a FIWARE payload is an entity object, a list of them, or {'data': [...]}")
    return items


def _short_type(value: Any) -> str:
    text = str(value)
    for separator in ("#", "/", ":"):
        text = text.rsplit(separator, 1)[-1]
    return text


def _id_matches(entity_id: Any, wanted: str) -> bool:
    text = str(entity_id)
    return text == wanted or text.endswith(":" + wanted)


def _unwrap(attribute: Any) -> tuple[Any, Any]:
    """(value, observedAt or None) of a v2 / LD attribute or a keyValues value."""
    if isinstance(attribute, dict):
        if "value" not in attribute:
            raise Rejected(Reason.MISSING_FIELD, "attribute object has no 'value'")
        value = attribute["value"]
        if isinstance(value, dict) and "@value" in value:
            value = value["@value"]
        return value, attribute.get("observedAt")
    return attribute, None


def read_entity(entity: dict[str, Any], mapping: FiwarePayload) -> tuple[Any, Any]:
    """(raw value, raw time or None) of `mapping.attribute` in one entity."""
    if "type" in entity and _short_type(entity["type"]) != mapping.entity_type:
        raise Rejected(Reason.ENTITY_MISMATCH, f"entity type '{entity['type']}' is not {mapping.entity_type}")
    if mapping.entity_id is not None and not _id_matches(entity.get("id"), mapping.entity_id):
        raise Rejected(Reason.ENTITY_MISMATCH, f"entity id '{entity.get('id')}' is not {mapping.entity_id}")
    if mapping.attribute not in entity:
        raise Rejected(Reason.MISSING_FIELD, f"entity has no attribute '{mapping.attribute}'")
    value, observed_at = _unwrap(entity[mapping.attribute])
    if "dateObserved" in entity:
        date_observed, _ = _unwrap(entity["dateObserved"])
        return value, observed_at or date_observed
    return value, observed_at
