"""Cameras from streams.yaml with the status their edge worker last reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException

from contract.config import Camera, StreamsConfig
from contract.timeutil import utc_now
from server.api.deps import ConfigDep, StoreDep
from server.api.schemas import CameraOut
from server.store.records import StoredCameraStatus

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

SILENT_AFTER_INTERVALS = 2.5
"""an online camera whose worker has said nothing for this many stats intervals is shown offline"""


def _silenced(status: StoredCameraStatus, config: StreamsConfig, now: datetime) -> StoredCameraStatus:
    """An "online" status repeats at each of the worker's stats intervals; when it has stopped (the
    edge host died, its link is cut, and the transport has no last will, like JetStream), the
    camera is reported offline with the reason, instead of "online" for ever."""
    if status.state != "online":
        return status
    worker = next((w for w in config.edge_workers if w.id == status.worker_id), None)
    interval = worker.stats_interval if worker is not None else timedelta(seconds=30)
    silent = now - status.received_at
    if silent <= interval * SILENT_AFTER_INTERVALS:
        return status
    reason = (
        f"no report from edge worker '{status.worker_id}' for {silent.total_seconds():.0f} s "
        f"(it reports every {interval.total_seconds():.0f} s)"
    )
    return replace(status, state="offline", reason=reason, fps_decoded=None, fps_detected=None)


def _camera_out(camera: Camera, status: StoredCameraStatus | None) -> CameraOut:
    return CameraOut(
        id=camera.id,
        name=camera.name,
        site=camera.site,
        worker=camera.worker,
        enabled=camera.enabled,
        state=status.state if status else ("disabled" if not camera.enabled else "unknown"),
        status_time=status.time if status else None,
        reason=status.reason if status else None,
        fps_decoded=status.fps_decoded if status else None,
        fps_detected=status.fps_detected if status else None,
    )


@router.get("", response_model=list[CameraOut])
async def list_cameras(config: ConfigDep, store: StoreDep) -> list[CameraOut]:
    statuses, now = await store.camera_statuses(), utc_now()
    return [_camera_out(camera, _status(statuses.get(camera.id), config, now)) for camera in config.cameras]


@router.get("/{camera_id}", response_model=CameraOut)
async def get_camera(camera_id: str, config: ConfigDep, store: StoreDep) -> CameraOut:
    camera = config.camera(camera_id)
    if camera is None:
        raise HTTPException(404, f"camera '{camera_id}' is not in streams.yaml")
    statuses = await store.camera_statuses()
    return _camera_out(camera, _status(statuses.get(camera.id), config, utc_now()))


def _status(status: StoredCameraStatus | None, config: StreamsConfig, now: datetime) -> StoredCameraStatus | None:
    return _silenced(status, config, now) if status is not None else None
