"""What an overlay client receives for one detection event: geometry and labels, nothing secret."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from server.store.records import StoredEvent


class OverlayDetection(BaseModel):
    id: str
    camera_id: str
    kind: str
    ts: datetime
    """the frame's time (edge clock)"""
    lag_ms: int
    """server receipt minus frame time: how late the overlay draws it relative to the picture"""
    label: str | None = None
    confidence: float | None = None
    box: tuple[float, float, float, float] | None = None
    """x1, y1, x2, y2 as fractions of the frame"""
    track_id: int | None = None
    zone: str | None = None
    line: str | None = None
    direction: str | None = None
    count: int | None = None
    dwell_s: float | None = None

    @classmethod
    def of(cls, event: StoredEvent) -> OverlayDetection:
        return cls(
            id=event.id,
            camera_id=event.camera_id,
            kind=event.kind,
            ts=event.time,
            lag_ms=round((event.received_at - event.time).total_seconds() * 1000),
            label=event.label,
            confidence=event.confidence,
            box=event.box,
            track_id=event.track_id,
            zone=event.zone,
            line=event.line,
            direction=event.direction,
            count=event.count,
            dwell_s=event.dwell_s,
        )
