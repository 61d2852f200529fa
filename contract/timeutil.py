"""Time helpers: everything is timezone-aware UTC inside the system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH_MS_THRESHOLD = 100_000_000_000  # numbers above this are milliseconds


def utc_now() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Aware datetimes are converted to UTC; naive ones are rejected (their zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time needs a UTC offset, e.g. '2026-03-01T07:00:00+07:00' or '...Z'")
    return value.astimezone(UTC)


def parse_timestamp(value: object) -> datetime:
    """ISO 8601 text with an offset, or epoch seconds / milliseconds, to an aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueError("a time cannot be true/false")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > _EPOCH_MS_THRESHOLD else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not an ISO 8601 time") from exc
        return ensure_utc(parsed)
    raise ValueError(f"cannot read a time from {type(value).__name__}")


def isoformat_z(value: datetime) -> str:
    """`2026-03-01T00:00:00.123Z`: UTC, millisecond precision."""
    return ensure_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_site_time(value: datetime, timezone: str) -> datetime:
    return ensure_utc(value).astimezone(ZoneInfo(timezone))


def seconds(value: timedelta) -> float:
    return value.total_seconds()
