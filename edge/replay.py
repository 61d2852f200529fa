"""A video file through one camera's pipeline offline, as the worker would run it: frames sampled at
the camera's detection fps on the file's own clock, resized as the capture thread does, detected in
batches, then filtered, tracked and turned into events. No RTSP, no broker, no motion gate.

Used by the counting reference test and `bench/counting.py`; `detect_file` and `replay_detections`
are separate so that tracker settings can be compared on one set of detections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from contract.config import Camera
from contract.payloads import DetectionEventPayload
from edge.bytetrack import ByteTrackSettings
from edge.detect.protocol import Detections, Detector
from edge.pipeline import CameraPipeline
from edge.source.frames import FrameSampler, SampledFrame
from edge.source.supervisor import sample_size

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # the file's t=0


@dataclass(frozen=True)
class DetectedFrame:
    frame: SampledFrame
    detections: Detections
    t: float  # seconds on the file's clock


def detect_file(
    path: Path, camera: Camera, detector: Detector, min_confidence: float, batch: int = 4
) -> list[DetectedFrame]:
    """Every frame the camera would sample from the file, with the detector's boxes."""
    sampler = FrameSampler(camera.detect.fps)
    picked: list[tuple[float, SampledFrame]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for decoded in container.decode(stream):
            t = float(decoded.time or 0.0)
            if not sampler.take(t):
                continue
            width, height = sample_size(decoded.width, decoded.height, camera.detect)
            image = decoded.reformat(width=width, height=height, format="bgr24", interpolation="AREA")
            ts = EPOCH + timedelta(seconds=t)
            picked.append((t, SampledFrame(camera.id, np.asarray(image.to_ndarray(), np.uint8), ts)))
    out: list[DetectedFrame] = []
    for start in range(0, len(picked), batch):
        chunk = picked[start : start + batch]
        found = detector.detect([f.image for _, f in chunk], min_confidence)
        out.extend(DetectedFrame(f, d, t) for (t, f), d in zip(chunk, found, strict=True))
    return out


def replay_detections(
    frames: Sequence[DetectedFrame],
    camera: Camera,
    names: dict[int, str],
    tracker: ByteTrackSettings | None = None,
) -> list[DetectionEventPayload]:
    """The events a fresh pipeline emits for these frames, in order."""
    events: list[DetectionEventPayload] = []
    pipeline = CameraPipeline(camera, "replay", names, events.append, "replay", tracker=tracker)
    for item in frames:
        pipeline.process(item.frame, item.detections)
    return events


def seconds_of(event: DetectionEventPayload) -> float:
    """An event's time on the replayed file's clock."""
    return (event.ts - EPOCH).total_seconds()
