"""Edge worker messages: detection events (with inline snapshots), camera and worker status."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contract.payloads import CameraStatusPayload, DetectionEventPayload, EdgeStatusPayload
from server.ingest.errors import Reason, Rejected
from server.store.records import EVENT_FIELDS, StoredCameraStatus, StoredEvent, StoredSnapshot


def _validation_detail(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "payload"
    return f"{where}: {first['msg']} ({exc.error_count()} problem(s))"


def decode_event(payload: bytes, camera_id: str, received_at: datetime) -> DetectionEventPayload:
    try:
        event = DetectionEventPayload.model_validate_json(payload)
    except ValidationError as exc:
        reason = Reason.MALFORMED_JSON if exc.errors()[0]["type"] == "json_invalid" else Reason.INVALID_EVENT
        raise Rejected(reason, _validation_detail(exc)) from exc
    if event.camera_id != camera_id:
        raise Rejected(Reason.CAMERA_MISMATCH, f"payload camera '{event.camera_id}' on the topic of '{camera_id}'")
    return event


def decode_snapshot(event: DetectionEventPayload, max_bytes: int) -> StoredSnapshot:
    """The inline JPEG, its digest checked; Rejected(BAD_SNAPSHOT) when it is missing or wrong."""
    ref = event.snapshot
    if ref is None or ref.data_b64 is None:
        raise Rejected(Reason.BAD_SNAPSHOT, "snapshot has no inline data")
    if len(ref.data_b64) > max_bytes * 4 // 3 + 4:
        raise Rejected(Reason.TOO_LARGE, f"snapshot is over {max_bytes} bytes")
    try:
        data = base64.b64decode(ref.data_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(Reason.BAD_SNAPSHOT, f"snapshot is not base64: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != ref.sha256:
        raise Rejected(Reason.BAD_SNAPSHOT, "snapshot sha256 does not match its data")
    if not data.startswith(b"\xff\xd8"):
        raise Rejected(Reason.BAD_SNAPSHOT, "snapshot is not a JPEG")
    return StoredSnapshot(ref.sha256, ref.content_type, data, ref.width, ref.height)


_FROM_PAYLOAD = tuple(name for name in EVENT_FIELDS if name in DetectionEventPayload.model_fields)
"""the stored fields the payload carries under the same name (all but time, receipt and snapshot)"""


def stored_event(event: DetectionEventPayload, received_at: datetime, snapshot: StoredSnapshot | None) -> StoredEvent:
    return StoredEvent(
        **{name: getattr(event, name) for name in _FROM_PAYLOAD},
        time=event.ts,
        received_at=received_at,
        snapshot_sha256=snapshot.sha256 if snapshot else None,
    )


def decode_camera_status(payload: bytes, camera_id: str, received_at: datetime) -> StoredCameraStatus:
    try:
        status = CameraStatusPayload.model_validate_json(payload)
    except ValidationError as exc:
        raise Rejected(Reason.INVALID_STATUS, _validation_detail(exc)) from exc
    if status.camera_id != camera_id:
        raise Rejected(Reason.CAMERA_MISMATCH, f"payload camera '{status.camera_id}' on the topic of '{camera_id}'")
    return StoredCameraStatus(
        camera_id=status.camera_id,
        worker_id=status.worker_id,
        state=status.state,
        time=status.ts,
        received_at=received_at,
        reason=status.reason,
        fps_decoded=status.fps_decoded,
        fps_detected=status.fps_detected,
    )


def decode_edge_status(payload: bytes, worker_id: str, received_at: datetime) -> dict[str, Any]:
    """The worker's retained status; the broker's last will may be the bare text `offline`."""
    if payload.strip() in (b"offline", b'"offline"'):
        return {"worker_id": worker_id, "state": "offline", "time": None, "cameras": [], "version": None,
                "received_at": received_at}  # fmt: skip
    try:
        status = EdgeStatusPayload.model_validate_json(payload)
    except ValidationError as exc:
        raise Rejected(Reason.INVALID_STATUS, _validation_detail(exc)) from exc
    return {
        "worker_id": worker_id,
        "state": status.state,
        "time": status.ts,
        "cameras": list(status.cameras),
        "version": status.version,
        "received_at": received_at,
    }
