"""After detection, on the real tracker: a zone_exit that follows a track's disappearance still
carries the track's snapshot (object_gone comes first in the same frame and used to drop it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from contract.config import Camera
from contract.payloads import DetectionEventPayload
from edge.detect.protocol import Detections
from edge.pipeline import CameraPipeline
from edge.source.frames import SampledFrame
from tests.edge.conftest import camera

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_zone_exit_after_the_track_is_gone_carries_a_snapshot() -> None:
    zone = {"id": "hall", "points": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], "inertia_frames": 1}
    settings = {**camera("cam", "rtsp://127.0.0.1/x"), "zones": [zone], "detect": {"fps": 5, "classes": ["person"]}}
    events: list[DetectionEventPayload] = []
    pipeline = CameraPipeline(Camera.model_validate(settings), "w", {0: "person"}, events.append, "run")
    image = np.full((360, 640, 3), 90, np.uint8)
    person = Detections(np.array([[300, 100, 360, 260]], np.float32), np.array([0.9], np.float32), np.array([0]))
    for i in range(60):  # 12 s at 5 fps: seen for 3 s, then nobody until long after `gone_after`
        frame = SampledFrame("cam", image, T0 + timedelta(seconds=i / 5))
        pipeline.process(frame, person if i < 15 else Detections.empty())
    kinds = [e.kind for e in events]
    assert "object_gone" in kinds and "zone_exit" in kinds, kinds
    assert kinds.index("object_gone") < kinds.index("zone_exit")
    exit_event = next(e for e in events if e.kind == "zone_exit")
    assert exit_event.snapshot is not None
