"""Detection events: search with keyset pagination, one event, its snapshot, counts over time."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Container
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response

from contract.config.root import StreamsConfig
from contract.timeutil import parse_timestamp
from server.api.deps import ConfigDep, StoreDep
from server.api.schemas import CountPoint, EventOut, EventPage
from server.api.timerange import auto_bucket, parse_bucket, resolve_range
from server.auth.deps import CurrentPrincipal
from server.auth.roles import Principal
from server.auth.scope import scoped_cameras, sites_of
from server.store.base import EventQuery
from server.store.records import StoredEvent

router = APIRouter(prefix="/api/events", tags=["events"])

EventId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")]


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


def _cameras(config: StreamsConfig, principal: Principal) -> Container[str]:
    """The cameras whose events the caller sees: all for an unscoped caller (cameras removed from
    streams.yaml included), those of its sites otherwise."""
    if sites_of(principal) is None:
        return _Everything()
    return {camera.id for camera in config.cameras}


def _event_out(event: StoredEvent) -> EventOut:
    return EventOut.model_validate(event)


def encode_cursor(event: StoredEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.time.isoformat()}|{event.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        time_text, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return parse_timestamp(time_text), event_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise HTTPException(422, "cursor is not one this API returned (use next_cursor as given)") from exc


@router.get("", response_model=EventPage)
async def search_events(
    store: StoreDep,
    config: ConfigDep,
    principal: CurrentPrincipal,
    camera: str | None = None,
    label: str | None = None,
    zone: str | None = None,
    line: str | None = None,
    kind: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> EventPage:
    """Newest first. Pass `next_cursor` back as `cursor` for the next page (stable under inserts)."""
    if start is not None or end is not None:
        start, end = resolve_range(start, end, timedelta(days=1))
    before = decode_cursor(cursor) if cursor else None
    cameras = scoped_cameras(config, principal)  # a caller scoped to sites sees their cameras' events
    events = await store.events(EventQuery(camera, label, zone, line, kind, start, end, limit, before, cameras))
    next_cursor = encode_cursor(events[-1]) if len(events) == limit else None
    return EventPage(items=[_event_out(e) for e in events], next_cursor=next_cursor)


@router.get("/counts", response_model=list[CountPoint])
async def event_counts(
    store: StoreDep,
    config: ConfigDep,
    principal: CurrentPrincipal,
    group: Literal["zone", "line", "label", "line_label"] = "zone",
    camera: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bucket: Annotated[str, Query(description="auto or 1m, 5m, 15m, 30m, 1h, 3h, 6h, 12h, 1d, 7d")] = "auto",
) -> list[CountPoint]:
    """Events per time bucket and zone (or line with its direction, or label; `line_label`: line,
    direction and label, as `bridge/in/person`)."""
    start, end = resolve_range(start, end, timedelta(hours=24))
    width = auto_bucket(start, end, 200) if bucket == "auto" else parse_bucket(bucket)
    width = width or timedelta(minutes=1)
    rows = await store.event_counts(camera, start, end, width, group, scoped_cameras(config, principal))
    return [CountPoint(time=r[0], camera_id=r[1], key=r[2], count=r[3]) for r in rows]


@router.get("/{event_id}", response_model=EventOut)
async def get_event(event_id: EventId, store: StoreDep, config: ConfigDep, principal: CurrentPrincipal) -> EventOut:
    event = await store.event(event_id)
    if event is None or event.camera_id not in _cameras(config, principal):
        raise HTTPException(404, f"event '{event_id}' not found")
    return _event_out(event)


@router.get("/{event_id}/snapshot", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def get_snapshot(event_id: EventId, store: StoreDep, config: ConfigDep, principal: CurrentPrincipal) -> Response:
    """The event's JPEG, looked up by event id (never by a path)."""
    event = await store.event(event_id)
    if event is None or event.camera_id not in _cameras(config, principal):
        raise HTTPException(404, f"event '{event_id}' not found")
    if event.snapshot_sha256 is None:
        raise HTTPException(404, f"event '{event_id}' has no snapshot")
    snapshot = await store.snapshot(event.snapshot_sha256)
    if snapshot is None:
        raise HTTPException(404, f"the snapshot of event '{event_id}' is no longer kept")
    headers = {"Cache-Control": "private, max-age=86400, immutable", "ETag": f'"{snapshot.sha256}"'}
    return Response(snapshot.data, media_type=snapshot.content_type, headers=headers)
