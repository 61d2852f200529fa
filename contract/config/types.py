"""Small reusable field types for the streams.yaml model tree."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, validate_default=True, use_attribute_docstrings=True
    )


class LocalText(StrictModel):
    """A text in both console languages."""

    vi: str = Field(min_length=1, max_length=500)
    """Vietnamese (the default language)"""
    en: str = Field(min_length=1, max_length=500)
    """English"""


def parse_duration(value: Any) -> timedelta:
    """Parse `90`, `90s`, `15m`, `1h30m`, `7d` into a timedelta (numbers are seconds)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '90s', '15m', '1h30m'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("a duration is a number of seconds or text like '90s', '15m', '1h30m'")
    text = value.strip().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"'{value}' is not a duration; use e.g. '90s', '15m', '1h30m', '7d'")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """`timedelta(hours=1, minutes=30)` -> `1h30m`; the inverse of parse_duration."""
    remaining = value.total_seconds()
    if remaining == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{int(count)}{unit}")
    if remaining:
        parts.append(f"{remaining:g}s")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def _positive(value: timedelta) -> timedelta:
    if value.total_seconds() <= 0:
        raise ValueError("must be longer than zero")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]

Identifier = Annotated[
    str,
    Field(
        pattern=_ID_PATTERN,
        description="lower-case letters, digits, '-' and '_', at most 63 characters",
    ),
]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{name}' (use an IANA name like 'Asia/Ho_Chi_Minh')") from exc
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


class GeoPoint(StrictModel):
    """A WGS84 position."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


NormalizedPoint = Annotated[
    tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]],
    Field(description="x, y as fractions of the frame width and height (0..1)"),
]


def check_url(url: str, schemes: tuple[str, ...], what: str) -> str:
    """A URL with one of `schemes`, a host and a port in 1-65535 (when given); errors never show
    the URL's password."""
    from urllib.parse import urlsplit

    from contract.redact import redact_url

    shown = redact_url(url)
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ValueError(f"{what} needs an {' or '.join(s + '://' for s in schemes)} URL, got '{shown}'")
    if not parts.hostname:
        raise ValueError(f"{what} URL '{shown}' has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} URL '{shown}' has an invalid port (1-65535)") from None
    if port == 0:
        raise ValueError(f"{what} URL '{shown}' has an invalid port (1-65535)")
    return url
