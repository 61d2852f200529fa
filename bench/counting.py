"""Counting benchmark: the pipeline's `line_crossed` events on vtest.avi against the hand-counted
reference `tests/edge/data/vtest_line_reference.json`. Prints RESULT lines for the chosen settings
(ByteTrackSettings', CountingLine's and DetectSettings' defaults: min_confidence 0.35, 5 fps;
yolo11n @320) and a table of the alternatives measured on the same detections, so the defaults are
chosen by measurement.

    .venv/bin/python bench/counting.py --quick [--model-640]

- count_recall_in_pct / count_recall_out_pct: reference crossings matched (same direction, within
  1.5 s) over reference crossings, per direction;
- count_double_counts: counted crossings that only find an already matched reference crossing;
- count_extra_crossings: counted crossings with no reference crossing near them;
- count_detect_ms_per_frame: CPU of the detector per sampled frame (process time), for the cost.
--quick compares the tracker and line settings at 5 fps on yolo11n @320; without it also 3 and 10 fps
and (with IOC_TEST_MODEL_640) yolov8n @640 (about 5 minutes on 2 cores); --quick takes ~20 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.config import Camera, OnnxDetector
from contract.config.cameras import DetectSettings
from edge.bytetrack import ByteTrackSettings
from edge.detect.onnx import load_onnx
from edge.events.reference import CountScore, LineReference, score
from edge.replay import DetectedFrame, detect_file, replay_detections, seconds_of
from edge.track import TRACK_BUFFER_S

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "edge" / "data" / "vtest_line_reference.json"
TOLERANCE_S = 1.5
LOW_BOXES = 0.1  # the detector is asked for boxes down to this score; the camera's min_confidence filters
MIN_CONFIDENCE = DetectSettings().min_confidence  # the camera default, as in tests/edge/test_counting_reference.py


def shared(env: str, name: str) -> Path:
    return Path(os.environ.get(env) or REPO.parent / "shared" / name)


def camera(reference: LineReference, fps: float, min_confidence: float, hysteresis: float | None) -> Camera:
    line = reference.line if hysteresis is None else reference.line.model_copy(update={"hysteresis": hysteresis})
    return Camera.model_validate(
        {
            "id": "vtest",
            "name": "vtest",
            "site": "site",
            "worker": "bench",
            "source": {"type": "file", "path": "vtest.avi"},
            "detect": {"fps": fps, "classes": ["person"], "min_confidence": min_confidence},
            "lines": [line.model_dump()],
        }
    )


def run(
    frames: list[DetectedFrame],
    reference: LineReference,
    names: dict[int, str],
    cam: Camera,
    tracker: ByteTrackSettings | None,
) -> CountScore:
    events = replay_detections(frames, cam, names, tracker)
    counted = [(seconds_of(e), e.direction) for e in events if e.kind == "line_crossed" and e.direction]
    return score(reference, counted, TOLERANCE_S)


def show(label: str, result: CountScore) -> None:
    print(
        f"  {label:<48} in {result.matched['in']}/{result.expected['in']}  "
        f"out {result.matched['out']}/{result.expected['out']}  doubles {result.double_counts}  "
        f"extras {result.extras}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reference = LineReference.load(REFERENCE)
    video = shared("IOC_TEST_VIDEO", "data/vtest.avi")
    models = [("yolo11n@320", shared("IOC_TEST_MODEL", "models/yolo11n_int8_320.onnx"), 320)]
    if not args.quick and shared("IOC_TEST_MODEL_640", "models/yolov8n_int8_640.onnx").is_file():
        models.append(("yolov8n@640", shared("IOC_TEST_MODEL_640", "models/yolov8n_int8_640.onnx"), 640))
    rates = [5.0] if args.quick else [3.0, 5.0, 10.0]
    chosen: CountScore | None = None
    detect_ms = 0.0
    for label, model, size in models:
        detector = load_onnx(OnnxDetector(type="onnx", model=str(model), imgsz=size, max_batch=4), model)
        names = dict(detector.names)
        for fps in rates:
            started = time.process_time()
            frames = detect_file(video, camera(reference, fps, MIN_CONFIDENCE, None), detector, LOW_BOXES)
            per_frame = 1000 * (time.process_time() - started) / max(len(frames), 1)
            print(f"{label} at {fps:g} fps: {len(frames)} frames, {per_frame:.1f} ms CPU per frame (decode+detect)")
            for name, conf, hysteresis, tracker in variants(fps):
                result = run(frames, reference, names, camera(reference, fps, conf, hysteresis), tracker)
                show(name, result)
                if name == "chosen" and fps == 5.0 and size == 320:
                    chosen, detect_ms = result, per_frame
    assert chosen is not None
    print(f"RESULT count_recall_in_pct {chosen.recall_pct('in'):.1f} %")
    print(f"RESULT count_recall_out_pct {chosen.recall_pct('out'):.1f} %")
    print(f"RESULT count_double_counts {chosen.double_counts} crossings")
    print(f"RESULT count_extra_crossings {chosen.extras} crossings")
    print(f"RESULT count_detect_ms_per_frame {detect_ms:.1f} ms")


Variant = tuple[str, float, float | None, ByteTrackSettings | None]


def variants(fps: float) -> list[Variant]:
    """(name, min_confidence, hysteresis or the line's default, tracker or CameraTracker's default)."""
    chosen = ByteTrackSettings(track_buffer=max(int(fps * TRACK_BUFFER_S), 10))
    ultralytics = replace(chosen, fuse_score=True, match_thresh=0.8, unconfirmed_match_thresh=0.7)
    return [
        ("chosen", MIN_CONFIDENCE, None, None),
        ("ultralytics' bytetrack.yaml (fuse, 0.8, 0.7)", MIN_CONFIDENCE, None, ultralytics),
        ("fuse_score", MIN_CONFIDENCE, None, replace(chosen, fuse_score=True)),
        ("match_thresh 0.8", MIN_CONFIDENCE, None, replace(chosen, match_thresh=0.8)),
        ("unconfirmed_match_thresh 0.7", MIN_CONFIDENCE, None, replace(chosen, unconfirmed_match_thresh=0.7)),
        ("min_confidence 0.25", 0.25, None, None),
        ("min_confidence 0.3", 0.3, None, None),
        ("min_confidence 0.4 (the default before 2026-12-02)", 0.4, None, None),
        ("hysteresis 0", MIN_CONFIDENCE, 0.0, None),
        ("hysteresis 0.02", MIN_CONFIDENCE, 0.02, None),
        ("hysteresis 0.05", MIN_CONFIDENCE, 0.05, None),
        ("new_track_thresh 0.5", MIN_CONFIDENCE, None, replace(chosen, new_track_thresh=0.5)),
        ("track_buffer 1 s", MIN_CONFIDENCE, None, replace(chosen, track_buffer=max(int(fps), 1))),
        ("track_buffer 6 s", MIN_CONFIDENCE, None, replace(chosen, track_buffer=int(6 * fps))),
    ]


if __name__ == "__main__":
    main()
