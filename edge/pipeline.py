"""One camera after detection: filter -> track -> snapshots -> events -> payloads.

Runs on the detection thread, which owns all of this state (no locks needed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta

import numpy as np

from contract.config import Camera
from contract.geometry import point_in_polygon
from contract.payloads import DetectionEventPayload
from edge.bytetrack import ByteTrackSettings
from edge.detect.protocol import Detections
from edge.events import CameraEventEngine, EventDraft, TrackedObject
from edge.snapshot import BestSnapshots
from edge.source.frames import DropOldestQueue, SampledFrame
from edge.stats import CameraCounters
from edge.track import CameraTracker

logger = logging.getLogger(__name__)

EventSink = Callable[[DetectionEventPayload], None]
TrackedSink = Callable[[SampledFrame, list[TrackedObject]], None]
"""Told every tracked frame, events or not (the live detections channel)."""
FRAME_QUEUE_SIZE = 2


class CameraPipeline:
    def __init__(
        self,
        camera: Camera,
        worker_id: str,
        names: Mapping[int, str],
        emit: EventSink,
        run_id: str,
        tracker: ByteTrackSettings | None = None,
        on_tracked: TrackedSink | None = None,
    ) -> None:
        self.camera = camera
        self.queue: DropOldestQueue[SampledFrame] = DropOldestQueue(FRAME_QUEUE_SIZE)
        self.counters = CameraCounters()
        self._worker_id = worker_id
        self._names = names
        self._emit = emit
        self._run_id = run_id
        self._on_tracked = on_tracked
        self._wanted = {index for index, name in names.items() if name in set(camera.detect.classes)}
        self._masks: list[list[tuple[float, float]]] = [[(p[0], p[1]) for p in m.points] for m in camera.masks]
        gone_after = timedelta(seconds=max(2.0, 6.0 / camera.detect.fps))
        self.events = CameraEventEngine(camera, gone_after)
        self._tracker = CameraTracker(camera.detect.fps, names, tracker)
        self._snapshots = BestSnapshots(camera.snapshot_quality)
        self._sequence = 0
        self.tracked = 0  # objects tracked after the last detected frame (read by the capture thread)

    def keep(self, detections: Detections, width: int, height: int) -> Detections:
        """The camera's classes, confidence, minimum area and masks."""
        if not len(detections):
            return detections
        detect = self.camera.detect
        xyxy = detections.xyxy
        area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]) / float(width * height)
        keep = np.isin(detections.cls, list(self._wanted)) & (detections.conf >= detect.min_confidence)
        keep &= area >= detect.min_area
        if self._masks:
            anchors = zip((xyxy[:, 0] + xyxy[:, 2]) / 2 / width, xyxy[:, 3] / height, strict=True)
            masked = [any(point_in_polygon((float(x), float(y)), m) for m in self._masks) for x, y in anchors]
            keep &= ~np.asarray(masked, dtype=bool)
        return detections.select(keep)

    def process(self, frame: SampledFrame, detections: Detections) -> int:
        """Track and turn this frame into events; return how many were emitted."""
        height, width = frame.image.shape[:2]
        objects = self._tracker.update(self.keep(detections, width, height), width, height)
        if self._on_tracked is not None:
            self._on_tracked(frame, objects)
        for obj in objects:
            self._snapshots.offer(frame.image, obj)
        drafts = self.events.update(objects, frame.ts)
        self.tracked = self.events.lifecycle.active
        for draft in drafts:
            self._emit(self._payload(draft))
        # after every event of the frame: a zone_exit that follows object_gone still has the snapshot
        for draft in drafts:
            if draft.kind == "object_gone" and draft.obj is not None:
                self._snapshots.forget(draft.obj.track_id)
        self.counters.events += len(drafts)
        return len(drafts)

    def tracked_boxes(self) -> list[tuple[float, float, float, float]]:
        """Where the objects not yet gone were last seen (fractions of the frame): detection regions."""
        return self.events.lifecycle.boxes()

    def is_tracking(self) -> bool:
        """Whether any object is tracked (seen and not yet gone); safe to call from any thread."""
        return self.tracked > 0

    def _payload(self, draft: EventDraft) -> DetectionEventPayload:
        self._sequence += 1
        obj: TrackedObject | None = draft.obj
        snapshot = self._snapshots.get(obj.track_id) if obj is not None else None
        return DetectionEventPayload(
            id=self._event_id(draft),
            camera_id=self.camera.id,
            worker_id=self._worker_id,
            kind=draft.kind,
            ts=draft.ts,
            label=obj.label if obj else None,
            confidence=min(max(obj.confidence, 0.0), 1.0) if obj else None,
            box=obj.box if obj else None,
            track_id=obj.track_id if obj else None,
            zone=draft.zone,
            line=draft.line,
            direction=draft.direction,
            count=draft.count,
            count_in=draft.count_in,
            count_out=draft.count_out,
            dwell_s=draft.dwell_s,
            threshold=draft.threshold,
            snapshot=snapshot.ref() if snapshot else None,
        )

    def _event_id(self, draft: EventDraft) -> str:
        """Stable: fixed when the event is made and stored with it in the spool."""
        track = draft.obj.track_id if draft.obj else ""
        key = f"{self._run_id}|{self.camera.id}|{self._sequence}|{draft.kind}|{track}|{draft.zone}|{draft.line}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]
