"""Response models: what the API promises, apart from storage records."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["up", "down"]
    mqtt: Literal["connected", "disconnected", "disabled"] = Field(
        description="the ingest transport's connection (the MQTT broker, or NATS with transport jetstream)"
    )
    transport: Literal["mqtt", "jetstream"] = "mqtt"
    ingest: Literal["running", "restarting", "stalled", "disabled"] = Field(
        default="disabled", description="restarting: a task failed; stalled: no commit while messages wait"
    )
    pending_messages: int
    timescale: bool
    timescale_license: str | None
    detail: str | None = None
    station_files: Literal["up", "down", "off"] = Field(
        default="off", description="the station-file receiver (FTP server and inbox task)"
    )

    role: Literal["leader", "follower"] = Field(
        default="leader", description="replicas: whether this one runs the alert engine, outbox and retention"
    )
    alerts: Literal["running", "standby", "down", "off"] = Field(
        default="off",
        description="the alert engine: running (here), standby (a follower: the leader runs it), down (this"
        " leader's engine failed to start and is retried), off (alerts disabled)",
    )


Quality = Literal["normal", "calibrating", "error"]


class LastReading(BaseModel):
    time: datetime
    value: float
    received_at: datetime
    quality: Quality = Field(default="normal", description="instrument status of the reading")


class SensorOut(BaseModel):
    id: str
    name: str
    kind: str
    unit: str
    site: str
    enabled: bool
    status: Literal["online", "offline", "unknown"]
    offline_timeout_s: float
    last: LastReading | None
    station: str | None = Field(default=None, description="the monitoring station whose files carry it")


class ReadingPoint(BaseModel):
    time: datetime
    value: float
    quality: Quality = Field(default="normal", description="calibrating / error readings are charted as such")


class BucketPoint(BaseModel):
    time: datetime
    min: float
    max: float
    avg: float
    count: int
    last: float


class ReadingsOut(BaseModel):
    sensor_id: str
    unit: str
    start: datetime
    end: datetime
    bucket_s: int | None
    points: list[ReadingPoint] | None = None
    buckets: list[BucketPoint] | None = None
    flagged: list[ReadingPoint] = Field(
        default_factory=list, description="with buckets: the calibrating / error readings (kept out of the rollups)"
    )


class CameraOut(BaseModel):
    id: str
    name: str
    site: str
    worker: str | None
    enabled: bool
    state: str
    status_time: datetime | None
    reason: str | None
    fps_decoded: float | None
    fps_detected: float | None


class EventOut(BaseModel):
    """A stored event (`server.store.records.StoredEvent`, read by attribute) as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    camera_id: str
    time: datetime
    kind: str
    received_at: datetime
    worker_id: str | None
    label: str | None
    confidence: float | None
    box: tuple[float, float, float, float] | None
    track_id: int | None
    zone: str | None
    line: str | None
    direction: str | None
    count: int | None
    count_in: int | None
    """a line's running count of crossings in its 'in' direction"""
    count_out: int | None
    threshold: int | None
    """the zone occupancy threshold an occupancy event exceeded"""
    dwell_s: float | None
    snapshot_sha256: str | None = Field(default=None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def snapshot_url(self) -> str | None:
        return f"/api/events/{self.id}/snapshot" if self.snapshot_sha256 else None


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class CountPoint(BaseModel):
    time: datetime
    camera_id: str
    key: str
    count: int


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    sensor_id: str | None
    reason: str
    detail: str
    payload: str
    payload_size: int
    payload_truncated: bool


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_before: int | None
