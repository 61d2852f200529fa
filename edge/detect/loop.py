"""The detection thread: takes the waiting frames of every camera, batches those that share a
detector into one inference, and hands each result to its camera's pipeline."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from edge.detect.crops import DetectJob, detect_jobs
from edge.detect.protocol import Detector
from edge.detect.regions import plan_regions
from edge.pipeline import CameraPipeline
from edge.source.frames import SampledFrame

logger = logging.getLogger(__name__)

Job = tuple[CameraPipeline, SampledFrame]


class FailureLog:
    """A failing step is logged once, with its traceback; then only its recovery, with the count
    of failures in between (a broken model would otherwise log a traceback per batch)."""

    def __init__(self) -> None:
        self._failures: dict[str, int] = {}

    def failed(self, key: str, message: str, *args: object) -> None:
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        if count == 1:
            logger.exception(message + " (logged once; the recovery will be)", *args)

    def succeeded(self, key: str) -> None:
        count = self._failures.pop(key, 0)
        if count:
            logger.info("%s: working again after %d failure(s)", key, count)


def plan_job(pipeline: CameraPipeline, frame: SampledFrame, input_size: int) -> DetectJob:
    """Crops around the frame's motion and the camera's tracked objects, or the whole frame."""
    height, width = frame.image.shape[:2]
    settings = pipeline.camera.detect.regions
    regions = plan_regions(frame.motion, pipeline.tracked_boxes(), (width, height), input_size, settings)
    pipeline.counters.region_crops += len(regions or ())
    return DetectJob(frame.image, regions)


class DetectionLoop:
    def __init__(self, detector_for: Callable[[str], Detector]) -> None:
        self._detector_for = detector_for
        self._pipelines: dict[str, CameraPipeline] = {}
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="detect", daemon=True)
        self._failures = FailureLog()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(10)

    def add(self, pipeline: CameraPipeline) -> None:
        pipeline.queue.set_wake(self.wake)
        with self._lock:
            self._pipelines[pipeline.camera.id] = pipeline

    def remove(self, camera_id: str) -> None:
        with self._lock:
            self._pipelines.pop(camera_id, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            jobs = self._take_jobs()
            if not jobs:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            by_detector: dict[str, list[Job]] = defaultdict(list)
            for job in jobs:
                by_detector[job[0].camera.detect.detector].append(job)
            for name, group in by_detector.items():
                self._detect_group(name, group)

    def _take_jobs(self) -> list[Job]:
        with self._lock:
            pipelines = list(self._pipelines.values())
        jobs: list[Job] = []
        for pipeline in pipelines:
            frame = pipeline.queue.get_nowait()
            if frame is not None:
                jobs.append((pipeline, frame))
        return jobs

    def _detect_group(self, name: str, group: list[Job]) -> None:
        try:
            detector = self._detector_for(name)
        except Exception:
            self._failures.failed(f"detector {name} load", "detector %s: cannot be loaded; dropping frames", name)
            return
        self._failures.succeeded(f"detector {name} load")
        for start in range(0, len(group), detector.max_batch):
            chunk = group[start : start + detector.max_batch]
            confidence = min(*(p.camera.detect.min_confidence for p, _ in chunk), 0.25)
            began = time.perf_counter()
            try:
                jobs = [plan_job(pipeline, frame, detector.input_size) for pipeline, frame in chunk]
                results = detect_jobs(detector, jobs, confidence)
            except Exception:
                self._failures.failed(f"detector {name} inference", "detector %s: inference failed", name)
                continue
            self._failures.succeeded(f"detector {name} inference")
            per_frame_ms = (time.perf_counter() - began) * 1000.0 / len(chunk)
            for (pipeline, frame), detections in zip(chunk, results, strict=True):
                pipeline.counters.inferences += 1
                pipeline.counters.inference_ms_total += per_frame_ms
                key = f"camera {pipeline.camera.id} processing"
                try:
                    pipeline.process(frame, detections)
                except Exception:
                    self._failures.failed(key, "camera %s: processing a detected frame failed", pipeline.camera.id)
                    continue
                self._failures.succeeded(key)
