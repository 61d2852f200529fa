"""Counts you can trust: the real detector, tracker and line logic on vtest.avi, sampled at the
camera's detection fps as the worker does, against the hand-counted reference
(`tests/edge/data/vtest_line_reference.json`, method in its `about`): every crossing counted in each
direction, none counted twice, the man who walks up to the line and turns back not counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.config import Camera, OnnxDetector
from edge.detect.onnx import load_onnx
from edge.events.reference import LineReference, score
from edge.replay import detect_file, replay_detections, seconds_of
from tests.fixtures.rtsp import find_test_video

pytestmark = pytest.mark.timeout(120)

REFERENCE = Path(__file__).parent / "data" / "vtest_line_reference.json"
TOLERANCE_S = 1.5  # a crossing is counted once the anchor is `hysteresis` past the line: a few frames late
MAX_EXTRAS = 0


def counting_camera(reference: LineReference) -> Camera:
    return Camera.model_validate(
        {
            "id": "vtest",
            "name": "vtest",
            "site": "site",
            "worker": "edge-test",
            "source": {"type": "file", "path": "vtest.avi"},
            "detect": {"classes": ["person"]},  # the defaults: 5 fps, min_confidence 0.35
            "lines": [reference.line.model_dump()],  # the default hysteresis
        }
    )


def test_the_reference_is_what_was_counted_by_hand() -> None:
    reference = LineReference.load(REFERENCE)
    assert (reference.total("in"), reference.total("out")) == (7, 5)
    assert reference.line.hysteresis == 0.03, "the line uses CountingLine's default hysteresis"


def test_every_crossing_of_the_clip_is_counted_once_in_its_direction(model_path: Path) -> None:
    clip = find_test_video()  # the original file (its own timestamps), not the fixtures' H.264 copy
    if clip is None:
        pytest.skip("vtest.avi not found: set IOC_TEST_VIDEO or apt-get install opencv-doc")
    reference = LineReference.load(REFERENCE)
    cam = counting_camera(reference)
    detector = load_onnx(OnnxDetector(type="onnx", model=str(model_path), imgsz=320, max_batch=4), model_path)
    frames = detect_file(clip, cam, detector, min_confidence=0.1)
    assert 390 <= len(frames) <= 400, "79.5 s sampled at 5 fps"
    events = replay_detections(frames, cam, dict(detector.names))
    counted = [(seconds_of(e), e.direction) for e in events if e.kind == "line_crossed" and e.direction]
    result = score(reference, counted, TOLERANCE_S)
    assert result.recall_pct("in") >= 95 and result.recall_pct("out") >= 95, (result.missed, result.unmatched)
    assert result.double_counts == 0, result.unmatched
    assert result.extras <= MAX_EXTRAS, result.unmatched
    last = [e for e in events if e.kind == "line_crossed"][-1]
    assert (last.count_in, last.count_out) == (result.matched["in"], result.matched["out"])
