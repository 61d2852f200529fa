"""Detection events as an edge worker publishes them, for the overlay tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from contract.payloads import DetectionEventPayload


def detection_event(
    camera_id: str = "cam-1", age_s: float = 0.0, track_id: int = 7, kind: str = "zone_enter"
) -> DetectionEventPayload:
    return DetectionEventPayload.model_validate(
        {
            "id": uuid.uuid4().hex,
            "camera_id": camera_id,
            "worker_id": "edge-1",
            "kind": kind,
            "ts": (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat(),
            "label": "person",
            "confidence": 0.87,
            "box": (0.30, 0.25, 0.55, 0.80),
            "track_id": track_id,
            "zone": "pier",
            "count": 1,
        }
    )


def events_topic(prefix: str, camera_id: str = "cam-1") -> str:
    return f"{prefix}/cameras/{camera_id}/events"
