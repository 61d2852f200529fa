"""Cameras: where the video comes from, how it is sampled and what is watched in it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from contract.config.record import RecordSettings
from contract.config.types import Duration, GeoPoint, Identifier, NormalizedPoint, StrictModel, check_url
from contract.geometry import polygon_problem
from contract.redact import redact_url


def _simple_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    problem = polygon_problem(points)
    if problem is not None:
        raise ValueError(problem)
    return points


Polygon = Annotated[list[NormalizedPoint], AfterValidator(_simple_polygon)]


class RtspSource(StrictModel):
    """An RTSP camera. Put credentials in the environment: `rtsp://user:${CAM_PASS}@host/...`."""

    type: Literal["rtsp"] = "rtsp"
    """source kind"""
    url: str = Field(description="rtsp:// or rtsps:// URL; ${ENV} is interpolated at load")
    transport: Literal["tcp", "udp"] = "tcp"
    """RTSP over TCP (reliable) or UDP"""
    connect_timeout: Duration = Field(
        default=timedelta(seconds=10), description="give up opening the stream after this"
    )
    stall_timeout: Duration = Field(default=timedelta(seconds=5), description="no frame for this long means stalled")

    @field_validator("url")
    @classmethod
    def _rtsp_scheme(cls, url: str) -> str:
        return check_url(url, ("rtsp", "rtsps"), "an RTSP source")

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)


class FileSource(StrictModel):
    """A local video file, looped: for demos and tests."""

    type: Literal["file"]
    """source kind"""
    path: str = Field(min_length=1)
    loop: bool = True
    """start again at the end of the file"""
    realtime: bool = Field(default=True, description="pace frames at the file's frame rate")

    @property
    def redacted_url(self) -> str:
        return f"file://{self.path}"


CameraSource = Annotated[RtspSource | FileSource, Field(discriminator="type")]


class RegionSettings(StrictModel):
    """Detection on motion regions: while the motion is small, the detector sees square crops around
    the moving (and the tracked) objects at up to full resolution, in one batch, instead of the whole
    frame scaled down to its input; more motion, or more regions than `max_regions`: the whole frame."""

    enabled: bool = True
    """false: always detect on the whole frame"""
    max_motion_area: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="crops only while the motion boxes cover at most this fraction of the frame",
    )
    max_regions: int = Field(
        default=1,
        ge=1,
        le=16,
        description="more regions than this: the whole frame (each crop costs one whole-frame inference on a CPU)",
    )
    margin: float = Field(
        default=0.25, ge=0, le=2, description="added on each side of a box, as a fraction of its size"
    )


class DetectSettings(StrictModel):
    """Sampling and detection for one camera."""

    enabled: bool = True
    """false: keep it in the file but do not run it"""
    fps: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="frames per second sent to the detector (10 counts every line crossing of the reference "
        "at twice the detector CPU; 5 counts them all with min_confidence 0.35)",
    )
    width: int | None = Field(default=None, ge=64, le=7680, description="resize before detection")
    height: int | None = Field(default=None, ge=64, le=4320)
    detector: Identifier = Field(default="default", description="a key of `detectors`")
    classes: list[str] = Field(
        default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"],
        min_length=1,
        description="COCO class names to keep",
    )
    min_confidence: float = Field(
        default=0.35, ge=0.01, le=1.0, description="measured on the counting reference (bench/counting.py)"
    )
    min_area: float = Field(default=0.0, ge=0, lt=1, description="smallest box, as a fraction of the frame")
    regions: RegionSettings = Field(default_factory=RegionSettings)
    """detection on crops around motion while the motion is small"""


class MotionSettings(StrictModel):
    """The motion gate: no motion, no detection (but a periodic refresh)."""

    enabled: bool = True
    """false: keep it in the file but do not run it"""
    threshold: int = Field(default=25, ge=1, le=255, description="pixel difference that counts as change")
    min_area: float = Field(default=0.002, gt=0, lt=1, description="changed fraction of the frame that is motion")
    refresh_interval: Duration = Field(
        default=timedelta(seconds=10),
        description="detect this often without motion while something is tracked; on an idle scene the "
        "interval doubles after each refresh, up to 4 times this",
    )
    keyframes_when_idle: bool = True
    """decode keyframes only while nothing moves and nothing is tracked (every frame again within one
    GOP of motion): an idle camera costs about a quarter of a full decode"""


class Zone(StrictModel):
    """A polygon in normalised coordinates (0..1 of the frame)."""

    id: Identifier
    name: str | None = None
    """label shown to people"""
    points: Polygon
    """polygon corners, at least 3, as [x, y] fractions of the frame"""
    classes: list[str] | None = Field(default=None, description="defaults to the camera's classes")
    inertia_frames: int = Field(default=3, ge=1, le=100, description="frames inside before 'entered' counts")
    loiter_time: Duration | None = Field(default=None, description="raise a loitering event after this")
    occupancy_threshold: int | None = Field(default=None, ge=1, le=10000)


class Mask(StrictModel):
    """An area to ignore for motion and detection (timestamps, trees, sky)."""

    points: Polygon
    """polygon corners, at least 3, as [x, y] fractions of the frame"""


class CountingLine(StrictModel):
    """A line from `start` to `end`. 'in' is a crossing from its left side to its right side
    (as seen in the image, looking from start towards end); 'out' the reverse."""

    id: Identifier
    name: str | None = None
    """label shown to people"""
    start: NormalizedPoint
    end: NormalizedPoint
    direction: Literal["both", "in", "out"] = "both"
    """which crossings count: `in`, `out` or `both`"""
    classes: list[str] | None = None
    """object classes that count (default: the camera's)"""
    hysteresis: float = Field(
        default=0.03,
        ge=0,
        lt=0.5,
        description="distance from the line (fraction of the frame) a track must reach on the other side to "
        "count: a person standing on the line, whose box jitters across it, is not counted in and out",
    )

    @model_validator(mode="after")
    def _has_length(self) -> CountingLine:
        dx, dy = self.end[0] - self.start[0], self.end[1] - self.start[1]
        if dx * dx + dy * dy < 1e-6:
            raise ValueError("a counting line needs two different points")
        return self


class Camera(StrictModel):
    id: Identifier
    name: str = Field(min_length=1)
    """label shown to people"""
    site: Identifier
    worker: Identifier = Field(description="the edge worker that runs this camera")
    enabled: bool = True
    """false: keep it in the file but do not run it"""
    source: CameraSource
    """where the video comes from (`type: rtsp` or `type: file`)"""
    detect: DetectSettings = Field(default_factory=DetectSettings)
    """sampling and detection settings"""
    motion: MotionSettings = Field(default_factory=MotionSettings)
    """the motion gate"""
    zones: list[Zone] = Field(default_factory=list)
    """areas watched for presence, loitering and occupancy"""
    masks: list[Mask] = Field(default_factory=list)
    """areas ignored by motion and detection"""
    lines: list[CountingLine] = Field(default_factory=list)
    """counting lines"""
    location: GeoPoint | None = None
    """map position"""
    snapshot_quality: int = Field(default=80, ge=10, le=100)
    record: RecordSettings = Field(default_factory=RecordSettings)
    """recording at the edge and event clips"""
    live_detections: bool = Field(
        default=True,
        description="publish the tracked objects of every detected frame on the lossy live channel "
        "(the console's overlay); false: events only",
    )

    def zone(self, zone_id: str) -> Zone | None:
        return next((zone for zone in self.zones if zone.id == zone_id), None)

    def line(self, line_id: str) -> CountingLine | None:
        return next((line for line in self.lines if line.id == line_id), None)
