"""Time ranges and automatic bucket sizes shared by the query routes."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import HTTPException

from contract.timeutil import utc_now

MAX_RANGE = timedelta(days=3660)
# Bucket sizes a chart may get; raw rows below the first.
BUCKETS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=7),
]


def resolve_range(start: datetime | None, end: datetime | None, default: timedelta) -> tuple[datetime, datetime]:
    """`end` defaults to now, `start` to `end - default`; both need a UTC offset."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a UTC offset, e.g. 2026-03-01T07:00:00+07:00 or ...Z")
    end = end or utc_now()
    start = start or end - default
    if start >= end:
        raise HTTPException(422, f"start ({start.isoformat()}) must be before end ({end.isoformat()})")
    if end - start > MAX_RANGE:
        raise HTTPException(422, f"the range is limited to {MAX_RANGE.days} days")
    return start, end


def auto_bucket(start: datetime, end: datetime, max_points: int) -> timedelta | None:
    """The smallest bucket that keeps the chart within `max_points`; None means raw rows fit."""
    span = end - start
    if span / max_points < timedelta(minutes=1):
        return None
    return next((bucket for bucket in BUCKETS if span / bucket <= max_points), BUCKETS[-1])


def parse_bucket(text: str) -> timedelta | None:
    """`auto`, `raw`, or one of the sizes: 1m, 5m, 15m, 30m, 1h, 3h, 6h, 12h, 1d, 7d."""
    names: dict[str, timedelta | None] = {"raw": None}
    for bucket in BUCKETS:
        seconds = int(bucket.total_seconds())
        if seconds % 86400 == 0:
            names[f"{seconds // 86400}d"] = bucket
        elif seconds % 3600 == 0:
            names[f"{seconds // 3600}h"] = bucket
        else:
            names[f"{seconds // 60}m"] = bucket
    if text not in names:
        raise HTTPException(422, f"bucket '{text}' is not one of auto, {', '.join(names)}")
    return names[text]
