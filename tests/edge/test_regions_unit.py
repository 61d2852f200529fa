"""Region planning on synthetic motion boxes (merging, squares inside the frame, when the whole
frame is used instead) and the merging of detections across overlapping regions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest
from pydantic import ValidationError

from contract.config import Camera
from contract.config.cameras import DetectSettings, RegionSettings
from edge.detect.crops import merge_parts
from edge.detect.loop import DetectionLoop
from edge.detect.protocol import Detections
from edge.detect.regions import Region, plan_regions
from edge.motion import changed_boxes
from edge.pipeline import CameraPipeline
from edge.source.frames import BgrImage, SampledFrame
from tests.edge.conftest import camera

FRAME = (640, 480)
ON = RegionSettings(max_regions=4)


def box(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
    """Pixels of the 640x480 frame as fractions."""
    return x1 / 640, y1 / 480, x2 / 640, y2 / 480


def contains(region: Region, b: tuple[float, float, float, float]) -> bool:
    x1, y1, x2, y2 = b[0] * 640, b[1] * 480, b[2] * 640, b[3] * 480
    return region.x1 <= x1 and region.y1 <= y1 and x2 <= region.x2 and y2 <= region.y2


def test_two_nearby_people_share_one_square_region_of_the_detector_size() -> None:
    motion = [box(100, 100, 120, 150), box(180, 120, 200, 170)]
    regions = plan_regions(motion, [], FRAME, 320, ON)
    assert regions is not None and len(regions) == 1
    (region,) = regions
    assert (region.x2 - region.x1, region.y2 - region.y1) == (320, 320)
    assert all(contains(region, b) for b in motion)


def test_people_far_apart_get_one_region_each_and_a_corner_region_stays_inside_the_frame() -> None:
    motion = [box(0, 0, 20, 40), box(600, 420, 640, 480)]
    regions = plan_regions(motion, [], FRAME, 320, ON)
    assert regions is not None and len(regions) == 2
    for region in regions:
        assert 0 <= region.x1 < region.x2 <= 640 and 0 <= region.y1 < region.y2 <= 480
        assert (region.x2 - region.x1, region.y2 - region.y1) == (320, 320)
    assert [any(contains(r, b) for r in regions) for b in motion] == [True, True]
    assert Region(0, 0, 320, 320) in regions and Region(320, 160, 640, 480) in regions


def test_a_large_box_gets_a_larger_square_with_its_margin() -> None:
    motion = [box(200, 100, 300, 300)]  # 200 tall: 200 * (1 + 2 * 0.25) = 300 < 320
    assert plan_regions(motion, [], FRAME, 320, ON) == [Region(90, 40, 410, 360)]
    tall = [box(300, 60, 340, 310)]  # 250 tall: a 375 square, centred
    assert plan_regions(tall, [], FRAME, 320, ON) == [Region(132, 0, 507, 375)]


def test_a_tracked_object_that_stopped_moving_keeps_its_region() -> None:
    motion = [box(20, 20, 40, 60)]
    parked = box(560, 400, 620, 440)  # tracked, still: no motion there
    regions = plan_regions(motion, [parked], FRAME, 320, ON)
    assert regions is not None and len(regions) == 2
    assert any(contains(r, parked) for r in regions) and any(contains(r, motion[0]) for r in regions)


@pytest.mark.parametrize(
    ("motion", "settings", "why"),
    [
        ([], ON, "no motion: a refresh or the tail looks at the whole frame"),
        ([box(0, 0, 400, 300)], ON, "large motion"),
        ([box(0, 0, 20, 20), box(600, 0, 620, 20), box(0, 440, 20, 460)], RegionSettings(max_regions=2), "3 > 2"),
        ([box(0, 0, 20, 20), box(600, 0, 620, 20), box(300, 440, 320, 460)], ON, "the crops cover the frame"),
        ([box(10, 10, 30, 30)], RegionSettings(enabled=False), "regions off"),
    ],
)
def test_the_whole_frame_when_regions_would_not_help(
    motion: list[tuple[float, float, float, float]], settings: RegionSettings, why: str
) -> None:
    assert plan_regions(motion, [], FRAME, 320, settings) is None, why


def test_a_frame_smaller_than_the_detector_input_is_detected_whole() -> None:
    assert plan_regions([box(10, 10, 30, 30)], [], (300, 200), 320, ON) is None


def test_motion_boxes_are_the_changed_blobs_as_fractions_largest_first() -> None:
    changed = np.zeros((120, 160), np.uint8)
    changed[10:20, 100:104] = 255
    changed[60:100, 20:40] = 255
    changed[50, 80] = 255  # a single pixel: noise
    boxes = changed_boxes(changed)
    assert len(boxes) == 2
    x1, y1, x2, y2 = boxes[0]
    assert x1 < 20 / 160 < 40 / 160 < x2 and y1 < 60 / 120 < 100 / 120 < y2 and x2 - x1 < 30 / 160


def test_regions_settings_are_strict_and_bounded() -> None:
    assert DetectSettings().regions.enabled
    with pytest.raises(ValidationError, match="max_regions"):
        DetectSettings.model_validate({"regions": {"max_regions": 0}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        DetectSettings.model_validate({"regions": {"min_side": 320}})


def _detections(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    array = np.asarray(rows, np.float32).reshape(-1, 6)
    return Detections(array[:, :4].copy(), array[:, 4].copy(), array[:, 5].astype(np.int64))


def test_one_object_seen_by_two_overlapping_regions_is_one_box_in_frame_coordinates() -> None:
    left, right = Region(0, 0, 320, 320), Region(200, 0, 520, 320)
    # the same person at frame x 250..290, y 100..200, seen by both; a car only in the right one
    in_left = _detections([(250, 100, 290, 200, 0.8, 0)])
    in_right = _detections([(50, 101, 90, 201, 0.7, 0), (250, 50, 310, 90, 0.9, 2)])
    merged = merge_parts([(in_left, left), (in_right, right)], 640, 480)
    assert len(merged) == 2
    order = np.argsort(merged.cls)
    np.testing.assert_allclose(merged.xyxy[order], [[250, 100, 290, 200], [450, 50, 510, 90]])
    np.testing.assert_allclose(merged.conf[order], [0.8, 0.9])


def test_a_box_cut_by_its_region_edge_is_dropped_when_another_region_saw_all_of_it() -> None:
    left, right = Region(0, 0, 320, 320), Region(200, 0, 520, 320)
    whole = _detections([(60, 100, 180, 200, 0.6, 0)])  # right region: frame x 260..380
    cut = _detections([(260, 100, 320, 200, 0.9, 0)])  # left region: cut at its right edge (x 320)
    merged = merge_parts([(cut, left), (whole, right)], 640, 480)
    np.testing.assert_allclose(merged.xyxy, [[260, 100, 380, 200]])


def test_the_whole_frame_passes_through_unchanged() -> None:
    frame = _detections([(1, 2, 3, 4, 0.5, 0)])
    assert merge_parts([(frame, None)], 640, 480) is frame


class _Recording:
    """A detector double that records the images of each call and finds one person in each."""

    max_batch = 4
    input_size = 320

    def __init__(self) -> None:
        self.names = {0: "person"}
        self.calls: list[list[tuple[int, ...]]] = []

    def detect(self, frames: Sequence[BgrImage], min_confidence: float) -> list[Detections]:
        self.calls.append([frame.shape for frame in frames])
        return [_detections([(10, 10, 40, 90, 0.9, 0)]) for _ in frames]

    def close(self) -> None:
        return None


def test_the_detection_loop_sends_the_crops_of_all_cameras_in_one_call_and_moves_boxes_back() -> None:
    detector = _Recording()
    loop = DetectionLoop(lambda _name: detector)
    cameras = [{**camera(f"cam{i}", "rtsp://127.0.0.1/x"), "detect": {"classes": ["person"]}} for i in range(2)]
    pipelines = [CameraPipeline(Camera.model_validate(c), "w", detector.names, lambda _e: None, "r") for c in cameras]
    image = np.zeros((480, 640, 3), np.uint8)
    small, large = (box(500, 300, 520, 360),), (box(0, 0, 400, 400),)
    ts = datetime(2026, 3, 1, tzinfo=UTC)
    loop._detect_group(
        "default",
        [(p, SampledFrame(p.camera.id, image, ts, m)) for p, m in zip(pipelines, (small, large), strict=True)],
    )
    assert detector.calls == [[(320, 320, 3), (480, 640, 3)]]  # one call: cam0's crop, cam1's whole frame
    assert [p.counters.region_crops for p in pipelines] == [1, 0]
    assert [p.counters.inferences for p in pipelines] == [1, 1]
    (crop_box,) = pipelines[0].tracked_boxes()  # found at (10, 10) in the crop at (320, 160)
    np.testing.assert_allclose(crop_box, (330 / 640, 170 / 480, 360 / 640, 250 / 480), atol=0.02)
