"""Snapshots: the best frame of each track so far, as a JPEG with the box drawn."""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from contract.payloads import SnapshotRef
from edge.events.model import TrackedObject
from edge.source.frames import BgrImage

SNAPSHOT_MAX_WIDTH = 640
_IMPROVEMENT = 1.05


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    width: int
    height: int
    score: float

    def ref(self) -> SnapshotRef:
        return SnapshotRef(
            sha256=hashlib.sha256(self.jpeg).hexdigest(),
            data_b64=base64.b64encode(self.jpeg).decode("ascii"),
            width=self.width,
            height=self.height,
        )


def render_snapshot(image: BgrImage, obj: TrackedObject, quality: int) -> Snapshot:
    """The frame, at most 640 pixels wide, with the object's box and label drawn."""
    height, width = image.shape[:2]
    scale = min(1.0, SNAPSHOT_MAX_WIDTH / width)
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    else:
        image = image.copy()
    out_h, out_w = image.shape[:2]
    x1, y1, x2, y2 = (round(v * s) for v, s in zip(obj.box, (out_w, out_h, out_w, out_h), strict=True))
    cv2.rectangle(image, (x1, y1), (x2, y2), (0, 0, 255), 2)
    caption = f"{obj.label} {obj.confidence:.2f} #{obj.track_id}"
    cv2.putText(image, caption, (x1, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1, cv2.LINE_AA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return Snapshot(encoded.tobytes(), out_w, out_h, obj.confidence)


class BestSnapshots:
    """Keeps the best snapshot per track (highest confidence), for at most `max_tracks` tracks."""

    def __init__(self, quality: int, max_tracks: int = 256) -> None:
        self._quality = quality
        self._max_tracks = max_tracks
        self._best: OrderedDict[int, Snapshot] = OrderedDict()
        self.evicted = 0

    def offer(self, image: BgrImage, obj: TrackedObject) -> None:
        current = self._best.get(obj.track_id)
        if current is not None and obj.confidence < current.score * _IMPROVEMENT:
            self._best.move_to_end(obj.track_id)
            return
        self._best[obj.track_id] = render_snapshot(image, obj, self._quality)
        self._best.move_to_end(obj.track_id)
        while len(self._best) > self._max_tracks:
            self._best.popitem(last=False)
            self.evicted += 1

    def get(self, track_id: int) -> Snapshot | None:
        return self._best.get(track_id)

    def forget(self, track_id: int) -> None:
        self._best.pop(track_id, None)
