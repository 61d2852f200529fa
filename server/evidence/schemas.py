"""Request and response models of the evidence API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from server.evidence.store import ClipRecord


class ClipMetaIn(BaseModel):
    clip_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    camera_id: str = Field(min_length=1, max_length=64)
    worker_id: str | None = None
    event_ids: list[str] = Field(default_factory=list, max_length=10000)
    start: datetime
    end: datetime
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=1)
    duration_s: float = Field(ge=0)
    kind: str = Field(default="event", pattern=r"^(event|range)$")
    request_id: str | None = None


class ClipOut(BaseModel):
    id: str
    camera_id: str
    worker_id: str | None
    kind: str
    request_id: str | None
    start_time: datetime
    end_time: datetime
    duration_s: float
    bytes: int
    sha256: str
    event_ids: list[str]
    received_at: datetime | None
    url: str


def clip_out(clip: ClipRecord) -> ClipOut:
    fields = {k: getattr(clip, k) for k in ClipOut.model_fields if k != "url"}
    return ClipOut(**fields, url=f"/api/evidence/clips/{clip.id}/video")


class RangeOut(BaseModel):
    start: datetime
    end: datetime


class TimelineEvent(BaseModel):
    id: str
    time: datetime
    kind: str
    label: str | None


class TimelineOut(BaseModel):
    camera_id: str
    start: datetime
    end: datetime
    recorded: list[RangeOut]
    """what the edge holds (as last reported by the worker)"""
    recorded_reported_at: datetime | None
    clips: list[ClipOut]
    events: list[TimelineEvent]


class RecordingRequestIn(BaseModel):
    start: datetime
    end: datetime


class RecordingRequestOut(BaseModel):
    request_id: str
    worker_id: str


class ReviewIn(BaseModel):
    event_ids: list[str] = Field(min_length=1, max_length=1000)
    reviewed: bool = True


class ReviewItem(BaseModel):
    id: str
    camera_id: str
    time: datetime
    kind: str
    label: str | None
    reviewed: bool
    clip_ids: list[str]


class CaseIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    reference: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=5000)
    clips: list[str] = Field(default_factory=list, max_length=1000)
    snapshots: list[str] = Field(default_factory=list, max_length=1000, description="event ids")


class CaseItemsIn(BaseModel):
    clips: list[str] = Field(default_factory=list, max_length=1000)
    snapshots: list[str] = Field(default_factory=list, max_length=1000)


class CaseOut(BaseModel):
    id: int
    title: str
    reference: str | None
    note: str | None
    created_by: str
    created_at: datetime
    clips: list[str]
    snapshots: list[str]


class AuditOut(BaseModel):
    id: int
    time: datetime | None
    actor: str
    actor_kind: str
    role: str
    action: str
    object: str
    detail: dict[str, Any]
    remote: str | None
    sites: list[str]
