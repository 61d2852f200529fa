"""Sensors from streams.yaml with their status and last value; readings over a time range."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from contract.config import Sensor
from contract.timeutil import utc_now
from server.api.deps import ConfigDep, StateDep, StoreDep
from server.api.schemas import BucketPoint, LastReading, Quality, ReadingPoint, ReadingsOut, SensorOut
from server.api.timerange import auto_bucket, parse_bucket, resolve_range
from server.store.records import StoredReading

router = APIRouter(prefix="/api/sensors", tags=["sensors"])

RAW_LIMIT = 100_000


def _status(sensor: Sensor, last: StoredReading | None) -> Literal["online", "offline", "unknown"]:
    if last is None:
        return "unknown"
    silent = (utc_now() - last.received_at).total_seconds()
    return "online" if silent <= sensor.offline_timeout else "offline"


def _sensor_out(sensor: Sensor, last: StoredReading | None) -> SensorOut:
    return SensorOut(
        id=sensor.id,
        name=sensor.name,
        kind=sensor.kind,
        unit=sensor.unit,
        site=sensor.site,
        enabled=sensor.enabled,
        status=_status(sensor, last),
        offline_timeout_s=sensor.offline_timeout,
        last=_last(last),
        station=sensor.station,
    )


def _last(last: StoredReading | None) -> LastReading | None:
    if last is None:
        return None
    return LastReading(time=last.time, value=last.value, received_at=last.received_at, quality=_quality(last))


def _quality(reading: StoredReading) -> Quality:
    return "calibrating" if reading.quality == "calibrating" else "error" if reading.quality == "error" else "normal"


def _find(config: ConfigDep, sensor_id: str) -> Sensor:
    sensor = config.sensor(sensor_id)
    if sensor is None:
        raise HTTPException(404, f"sensor '{sensor_id}' is not in streams.yaml")
    return sensor


@router.get("", response_model=list[SensorOut])
async def list_sensors(config: ConfigDep, store: StoreDep) -> list[SensorOut]:
    """Every configured sensor with its status (from the last arrival) and last value."""
    latest = await store.latest_readings([sensor.id for sensor in config.sensors])
    return [_sensor_out(sensor, latest.get(sensor.id)) for sensor in config.sensors]


@router.get("/{sensor_id}", response_model=SensorOut)
async def get_sensor(sensor_id: str, config: ConfigDep, store: StoreDep) -> SensorOut:
    sensor = _find(config, sensor_id)
    latest = await store.latest_readings([sensor.id])
    return _sensor_out(sensor, latest.get(sensor.id))


@router.get("/{sensor_id}/readings", response_model=ReadingsOut)
async def readings(
    sensor_id: str,
    config: ConfigDep,
    state: StateDep,
    start: Annotated[datetime | None, Query(description="ISO 8601 with offset; default end - 24h")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601 with offset; default now")] = None,
    bucket: Annotated[str, Query(description="auto, raw, 1m, 5m, 15m, 30m, 1h, 3h, 6h, 12h, 1d, 7d")] = "auto",
    max_points: Annotated[int, Query(ge=10, le=10_000)] = 500,
) -> ReadingsOut:
    """Raw readings when they fit in `max_points`, else min/max/avg/count/last per bucket (from rollups)."""
    sensor = _find(config, sensor_id)
    start, end = resolve_range(start, end, timedelta(hours=24))
    width = auto_bucket(start, end, max_points) if bucket == "auto" else parse_bucket(bucket)
    out = ReadingsOut(sensor_id=sensor.id, unit=sensor.unit, start=start, end=end, bucket_s=None)
    if width is None:
        limit = max_points + 1 if bucket == "auto" else RAW_LIMIT
        rows = await state.store.readings_raw(sensor.id, start, end, limit)
        if bucket != "auto" or len(rows) <= max_points:
            out.points = [ReadingPoint(time=row.time, value=row.value, quality=_quality(row)) for row in rows]
            return out
        width = timedelta(minutes=1)  # a fast sensor: too many raw rows for the chart
    rows_b = await state.store.readings_bucketed(sensor.id, start, end, width)
    out.bucket_s = int(width.total_seconds())
    out.buckets = [
        BucketPoint(time=b.time, min=b.min, max=b.max, avg=b.avg, count=b.count, last=b.last) for b in rows_b
    ]
    flagged = await state.store.readings_flagged(sensor.id, start, end, max_points)
    out.flagged = [ReadingPoint(time=row.time, value=row.value, quality=_quality(row)) for row in flagged]
    return out
