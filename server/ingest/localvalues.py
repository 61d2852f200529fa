"""What a province's loggers send that the contract does not: local times without an offset,
decimal commas and instrument status flags. Each is a payload setting, applied only when set."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contract.config.sensors import QualityMapping
from contract.jsonpath import parse_json_path, resolve_json_path
from server.ingest.errors import Reason, Rejected

_DECIMAL_COMMA = re.compile(r"^[+-]?\d+(,\d+)?$")
FLAGS = ("normal", "calibrating", "error")


def parse_decimal_comma(value: Any) -> Any:
    """`"3,2"` -> 3.2; JSON numbers pass through. Text with a dot is refused, not guessed at (in
    Vietnamese notation `1.234,5` is a thousands separator)."""
    if type(value) is not str:
        return value
    text = value.strip()
    if not _DECIMAL_COMMA.match(text):
        raise Rejected(Reason.WRONG_TYPE, f"value {value[:40]!r} is not a decimal-comma number like '3,2'")
    return float(text.replace(",", "."))


def localize_time(value: Any, zone: ZoneInfo) -> Any:
    """ISO 8601 text without a UTC offset (Tasmota's `"2026-03-01T07:00:00"`) read in `zone`;
    anything else is returned as it is, for the usual time parsing."""
    if type(value) is not str:
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        return value
    return parsed.replace(tzinfo=zone)


def quality_flag(status: Any, values: Mapping[str, str]) -> str:
    """A status value to 'normal' / 'calibrating' / 'error' per the mapping (then the flag names)."""
    text = str(status).strip() if not isinstance(status, bool) else str(status).lower()
    flag = values.get(text)
    if flag is None and text.lower() in FLAGS:
        flag = text.lower()
    if flag is None:
        known = ", ".join(sorted({*values, *FLAGS}))
        raise Rejected(Reason.BAD_QUALITY, f"unknown instrument status {text[:40]!r} (known: {known})")
    return flag


def read_quality(document: Any, mapping: QualityMapping) -> str:
    """The flag at the mapping's `quality_path` ('normal' when it has none)."""
    if mapping.quality_path is None:
        return "normal"
    try:
        status = resolve_json_path(document, parse_json_path(mapping.quality_path))
    except KeyError as exc:
        raise Rejected(Reason.MISSING_FIELD, f"JSON path step {exc} of the status not found") from exc
    return quality_flag(status, mapping.quality_values)
