"""Cameras from streams.yaml with the status their edge worker last reported."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from contract.config import Camera
from server.api.deps import ConfigDep, StoreDep
from server.api.schemas import CameraOut
from server.store.records import StoredCameraStatus

router = APIRouter(prefix="/api/cameras", tags=["cameras"])


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
    statuses = await store.camera_statuses()
    return [_camera_out(camera, statuses.get(camera.id)) for camera in config.cameras]


@router.get("/{camera_id}", response_model=CameraOut)
async def get_camera(camera_id: str, config: ConfigDep, store: StoreDep) -> CameraOut:
    camera = config.camera(camera_id)
    if camera is None:
        raise HTTPException(404, f"camera '{camera_id}' is not in streams.yaml")
    statuses = await store.camera_statuses()
    return _camera_out(camera, statuses.get(camera.id))
