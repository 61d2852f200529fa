"""ByteTrack (ultralytics' implementation, `lap` for assignment), one tracker state per camera."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.detect.protocol import Detections
from edge.events.model import TrackedObject


@dataclass(frozen=True)
class _TrackerInput:
    """The Results-like view BYTETracker reads: conf, cls, xywh, xyxy, boolean indexing."""

    conf: npt.NDArray[np.float32]
    cls: npt.NDArray[np.float32]
    xywh: npt.NDArray[np.float32]
    xyxy: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, keep: Any) -> _TrackerInput:
        return _TrackerInput(self.conf[keep], self.cls[keep], self.xywh[keep], self.xyxy[keep])


def _tracker_input(detections: Detections) -> _TrackerInput:
    xyxy = detections.xyxy
    xywh = np.stack(
        [
            (xyxy[:, 0] + xyxy[:, 2]) / 2,
            (xyxy[:, 1] + xyxy[:, 3]) / 2,
            xyxy[:, 2] - xyxy[:, 0],
            xyxy[:, 3] - xyxy[:, 1],
        ],
        axis=1,
    ).astype(np.float32)
    return _TrackerInput(detections.conf, detections.cls.astype(np.float32), xywh, xyxy)


class CameraTracker:
    """Turns each frame's detections into tracked objects with ids stable across frames."""

    def __init__(self, fps: float, names: Mapping[int, str]) -> None:
        from edge.detect.ultralytics import offline_environment

        offline_environment()
        from ultralytics.trackers.byte_tracker import BYTETracker

        args = SimpleNamespace(
            track_high_thresh=0.25,
            track_low_thresh=0.1,
            new_track_thresh=0.25,
            track_buffer=max(int(fps * 3), 10),
            match_thresh=0.8,
            fuse_score=True,
        )
        self._tracker = BYTETracker(args)  # type: ignore[no-untyped-call]
        self._names = names

    def update(self, detections: Detections, width: int, height: int) -> list[TrackedObject]:
        rows = self._tracker.update(_tracker_input(detections))
        objects: list[TrackedObject] = []
        for x1, y1, x2, y2, track_id, score, cls, _idx in np.asarray(rows, dtype=np.float64).reshape(-1, 8):
            box = (
                float(np.clip(x1 / width, 0, 1)),
                float(np.clip(y1 / height, 0, 1)),
                float(np.clip(x2 / width, 0, 1)),
                float(np.clip(y2 / height, 0, 1)),
            )
            label = self._names.get(int(cls), str(int(cls)))
            objects.append(TrackedObject(int(track_id), label, round(float(score), 4), box))
        return objects
