"""Versioned JSON payloads carried over MQTT. Every message has `"v": 1`.

Decoders are tolerant of extra keys from newer minor versions (extra="ignore") but strict on types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from contract.timeutil import ensure_utc

PAYLOAD_VERSION: Literal[1] = 1

UtcDateTime = Annotated[datetime, AfterValidator(ensure_utc)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = PAYLOAD_VERSION

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class ReadingPayload(Payload):
    """A native sensor reading on `<prefix>/sensors/<sensor_id>`. A bare number is accepted too."""

    value: float
    ts: UtcDateTime | None = Field(default=None, description="device time; arrival time when absent")
    unit: str | None = None


class BatchReading(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sensor: str = Field(min_length=1)
    value: float
    ts: UtcDateTime | None = None


class ReadingBatchPayload(Payload):
    """A gateway or data logger sending many readings in one message."""

    readings: list[BatchReading] = Field(min_length=1, max_length=10000)


CameraState = Literal["online", "offline", "connecting", "error", "disabled"]


class CameraStatusPayload(Payload):
    """Retained on `<prefix>/cameras/<camera_id>/status`."""

    camera_id: str
    worker_id: str
    state: CameraState
    ts: UtcDateTime
    reason: str | None = Field(default=None, description="why offline or error; never holds credentials")
    fps_decoded: float | None = None
    fps_detected: float | None = None
    width: int | None = None
    height: int | None = None


class EdgeStatusPayload(Payload):
    """Retained on `<prefix>/edge/<worker_id>/status`; the broker publishes `offline` as last will."""

    worker_id: str
    state: Literal["online", "offline"]
    ts: UtcDateTime | None = None
    cameras: list[str] = Field(default_factory=list)
    version: str | None = None
    config_error: str | None = Field(default=None, description="why the last streams.yaml edit was refused")
    sender_stalled: bool | None = Field(
        default=None, description="events wait and the broker acknowledged none for a while (see stats.sender)"
    )


class CameraStats(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    camera_id: str
    fps_in: float
    fps_decoded: float
    fps_detected: float
    frames_dropped: int
    inference_ms: float | None = None
    frames_motion_skipped: int | None = Field(default=None, description="sampled frames the motion gate held back")
    inferences: int | None = Field(default=None, description="frames sent to the detector since start")
    decode_lag_ms: float | None = Field(
        default=None, description="mean time from a packet's arrival to its frame leaving the decoder (live sources)"
    )
    live_published: int | None = Field(default=None, description="live detections sent since start")
    live_dropped: int | None = Field(
        default=None, description="live detections dropped since start (queue full, link down or busy)"
    )


class SnapshotDirStats(BaseModel):
    """Counters of the worker's snapshot directory (since start)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    written: int = 0
    bytes_written: int = 0
    deleted: int = Field(default=0, description="oldest files removed to stay under the size cap")
    write_errors: int = 0
    dropped: int = Field(default=0, description="snapshots not written because the writer fell behind")


class RecordingStats(BaseModel):
    """Counters of the worker's recorder (since start): a full disk shows as write_errors."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    packets: int = 0
    segments: int = 0
    bytes_written: int = 0
    write_errors: int = 0
    deleted_retention: int = 0
    deleted_cap: int = 0
    clips_cut: int = 0
    clips_uploaded: int = 0
    clips_dropped: int = Field(default=0, description="clips dropped from a full upload queue")
    clips_waiting: int = 0
    queue_dropped: int = Field(default=0, description="packets the segment writers fell behind on")
    disk_bytes: int = 0
    last_error: str | None = None


class SenderStats(BaseModel):
    """The edge worker's spool sender: whether it is connected, alive and keeping up."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    transport: str = Field(description="mqtt or jetstream")
    connected: bool
    alive: bool = Field(description="the sender thread runs (a watchdog restarts it otherwise)")
    stalled: bool = Field(description="events have waited without any acknowledgement for stall_after_s")
    seconds_since_progress: float = Field(description="since the last acknowledgement or empty spool")
    acknowledged: int = Field(description="events the broker acknowledged since start")
    resent: int = Field(description="events sent again after a lost session (QoS 1 duplicates at most)")
    restarts: int = Field(description="sessions lost or refused since start")
    last_error: str | None = None


class EdgeStatsPayload(Payload):
    """Periodic figures on `<prefix>/edge/<worker_id>/stats`."""

    worker_id: str
    ts: UtcDateTime
    cameras: list[CameraStats] = Field(default_factory=list)
    spool_depth: int = 0
    spool_dropped: int = 0
    snapshots: SnapshotDirStats | None = Field(default=None, description="when a snapshot_dir is set")
    recording: RecordingStats | None = Field(default=None, description="when a record_dir is set")
    sender: SenderStats | None = None


EventKind = Literal[
    "object_seen",
    "object_gone",
    "zone_enter",
    "zone_exit",
    "loitering",
    "zone_occupancy",
    "line_crossed",
]


class SnapshotRef(BaseModel):
    """The best frame of the track, JPEG, inline (base64) with its digest."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    content_type: Literal["image/jpeg"] = "image/jpeg"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    data_b64: str | None = Field(default=None, description="the JPEG itself, base64")
    width: int | None = None
    height: int | None = None


class DetectionEventPayload(Payload):
    """On `<prefix>/cameras/<camera_id>/events`. `id` is stable: a redelivery has the same id."""

    id: str = Field(min_length=8, max_length=64)
    camera_id: str
    worker_id: str | None = None
    kind: EventKind
    ts: UtcDateTime = Field(description="time of the frame")
    label: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    box: tuple[float, float, float, float] | None = Field(
        default=None, description="x1, y1, x2, y2 as fractions of the frame"
    )
    track_id: int | None = None
    zone: str | None = None
    line: str | None = None
    direction: Literal["in", "out"] | None = None
    count: int | None = Field(default=None, ge=0, description="occupancy, or the line's running count")
    dwell_s: float | None = Field(default=None, ge=0)
    count_in: int | None = Field(default=None, ge=0, description="a line's running 'in' count")
    count_out: int | None = Field(default=None, ge=0, description="a line's running 'out' count")
    threshold: int | None = Field(default=None, description="the zone's occupancy threshold, when exceeded")
    snapshot: SnapshotRef | None = None


class LiveObject(BaseModel):
    """One tracked object of a detected frame."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 as fractions of the frame")
    label: str
    confidence: float = Field(ge=0, le=1)
    track_id: int | None = None


class LiveDetectionsPayload(Payload):
    """On `live/<prefix>/cameras/<camera_id>/detections`, QoS 0: the tracked objects of one detected
    frame, sent as the frame is processed (an empty `objects` list says "nothing here").

    Lossy by design: never spooled, never stored, outside the durable stream's subjects; a viewer
    that misses one draws nothing for that frame. `ts` is the frame's capture time (the edge's wall
    clock when the frame arrived), the time the console matches the picture against; `seq` counts
    the camera's detected frames so that a gap shows a loss."""

    camera_id: str
    ts: UtcDateTime
    seq: int = Field(ge=0)
    width: int | None = None
    height: int | None = None
    objects: list[LiveObject] = Field(default_factory=list, max_length=500)


AlertState = Literal["pending", "firing", "acknowledged", "resolved"]


class AlertPayload(Payload):
    """Retained on `<prefix>/alerts/<alert_id>` (and pushed to dashboards and webhooks)."""

    id: str
    fingerprint: str
    rule_id: str
    state: AlertState
    severity: Literal["info", "warning", "critical"]
    subject: str = Field(description="the sensor or camera id (and zone / line) the alert is about")
    site: str | None = None
    summary: str
    value: float | None = None
    started_at: UtcDateTime
    updated_at: UtcDateTime
    resolved_at: UtcDateTime | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class RecordRequestPayload(Payload):
    """On `<prefix>/edge/<worker_id>/commands/record` (QoS 1): an operator asks the worker to cut and
    upload a recorded range of one of its cameras (a clip of kind `range`, carrying `request_id`)."""

    request_id: str = Field(min_length=8, max_length=64)
    camera_id: str
    start: UtcDateTime
    end: UtcDateTime
    requested_by: str | None = None
    ts: UtcDateTime | None = None


class RecordingRangesPayload(Payload):
    """Retained on `<prefix>/cameras/<camera_id>/recordings`: what the edge holds for a camera, as
    [start, end] ranges (segments closer than a GOP joined), oldest first."""

    camera_id: str
    worker_id: str
    ts: UtcDateTime
    ranges: list[tuple[UtcDateTime, UtcDateTime]] = Field(default_factory=list, max_length=10000)
