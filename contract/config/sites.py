"""Sites, edge workers, storage and MQTT settings: the deployment around the devices."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from contract.config.types import Duration, GeoPoint, Identifier, PositiveDuration, StrictModel, TimeZoneName


class Site(StrictModel):
    id: Identifier
    name: str = Field(min_length=1)
    """label shown to people"""
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    """IANA time zone for schedules and the console"""
    location: GeoPoint | None = None
    """map position"""


class EdgeWorker(StrictModel):
    id: Identifier
    name: str | None = None
    """label shown to people"""
    snapshot_dir: str | None = Field(default=None, description="where snapshots are written")
    snapshot_cap_mb: int = Field(
        default=1024, ge=1, description="size cap of snapshot_dir in MiB: the oldest snapshots are deleted above it"
    )
    spool_dir: str | None = Field(default=None, description="where events wait while the broker is down")
    spool_max_events: int = Field(default=100000, ge=100, le=10_000_000)
    stats_interval: PositiveDuration = Field(default=timedelta(seconds=30))
    """how often the worker publishes its figures"""
    record_dir: str | None = Field(default=None, description="where recordings and pending clips are written")
    record_cap_mb: int = Field(
        default=20480, ge=1, description="size cap of record_dir in MiB: the oldest segments are deleted above it"
    )
    clip_queue_max: int = Field(default=500, ge=1, le=100_000)
    """event clips waiting on disk for the server at most; above it the oldest waiting clip is dropped"""
    live_detections: bool = Field(
        default=True,
        description="false: no camera of this worker publishes live detections (each camera has its own "
        "switch too); applies to cameras started or restarted after the change",
    )


class MqttSettings(StrictModel):
    topic_prefix: str = Field(default="ioc", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")
    shared_group: str | None = Field(
        default=None,
        description="MQTT 5 shared subscription group, to split ingest between server replicas. Leave it unset "
        "for one server: Mosquitto 2.0 drops messages for a shared group while no member is connected "
        "(measured: half of a stream published across a broker restart)",
    )


class RetentionSettings(StrictModel):
    readings: Duration = Field(default=timedelta(days=730), description="keep raw readings this long")
    events: Duration = Field(default=timedelta(days=90))
    """keep detection events (and snapshots) this long"""
    alerts: Duration = Field(default=timedelta(days=1095))
    """keep resolved alerts and their history this long"""
    dead_letters: Duration = Field(default=timedelta(days=30))
    """keep rejected messages this long"""
    rollups: Duration = Field(default=timedelta(days=3650))
    """keep per-minute and per-hour rollups this long"""
    clips: Duration = Field(default=timedelta(days=90))
    """keep event clips on the server this long (clips in a case are kept while the case exists)"""
    audit: Duration = Field(default=timedelta(days=730))
    """keep the audit log (who viewed or exported what) this long"""
