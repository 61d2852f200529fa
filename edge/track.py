"""One tracker state per camera: ByteTrack (`edge/bytetrack.py`, numpy and `lap`, no torch)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edge.bytetrack import ByteTracker, ByteTrackSettings
from edge.detect.protocol import Detections
from edge.events.model import TrackedObject

TRACK_BUFFER_S = 3.0  # a lost track can be found again for this long


class CameraTracker:
    """Turns each frame's detections into tracked objects with ids stable across frames."""

    def __init__(self, fps: float, names: Mapping[int, str], settings: ByteTrackSettings | None = None) -> None:
        buffer = max(int(fps * TRACK_BUFFER_S), 10)
        self._tracker = ByteTracker(settings or ByteTrackSettings(track_buffer=buffer))
        self._names = names

    def update(self, detections: Detections, width: int, height: int) -> list[TrackedObject]:
        xyxy = np.asarray(detections.xyxy, np.float64).reshape(-1, 4)
        scores = np.asarray(detections.conf, np.float64).reshape(-1)
        classes = np.asarray(detections.cls, np.int64).reshape(-1)
        objects: list[TrackedObject] = []
        for track in self._tracker.update(xyxy, scores, classes):
            x1, y1, x2, y2 = track.xyxy()
            box = (
                float(np.clip(x1 / width, 0, 1)),
                float(np.clip(y1 / height, 0, 1)),
                float(np.clip(x2 / width, 0, 1)),
                float(np.clip(y2 / height, 0, 1)),
            )
            label = self._names.get(track.cls, str(track.cls))
            objects.append(TrackedObject(track.track_id, label, round(track.score, 4), box))
        return objects
