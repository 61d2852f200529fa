"""Motion gate, spool, backoff, sampling, bounded queue, detectors, error redaction."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from contract.backoff import Backoff
from contract.config import Mask, OnnxDetector
from contract.config.cameras import MotionSettings
from edge.motion import MotionGate
from edge.publish.spool import EventSpool
from edge.source.frames import DropOldestQueue, FrameSampler
from edge.source.stream import SourceRejectedError, translate_error

SIZE = (160, 90)


def grey(box_x: int | None = None) -> np.ndarray:
    image = np.full((90, 160), 80, dtype=np.uint8)
    if box_x is not None:
        image[30:60, box_x : box_x + 20] = 250
    return image


def gate(masks: list[Mask] | None = None, refresh: float = 10.0) -> MotionGate:
    settings = MotionSettings(refresh_interval=timedelta(seconds=refresh))
    return MotionGate(settings, masks or [], SIZE, tail_s=1.0)


def test_motion_gate_holds_a_static_scene_except_for_the_refresh() -> None:
    motion = gate(refresh=10.0)
    decisions = [motion.should_detect(grey(), t * 0.2) for t in range(100)]  # 20 s
    assert sum(decisions) == 2  # the first frame and one refresh at 10 s
    assert decisions[0] and decisions[50]


def test_motion_gate_backs_off_the_refresh_while_idle_up_to_four_intervals() -> None:
    motion = gate(refresh=10.0)
    detected = [t / 5 for t in range(1000) if motion.should_detect(grey(), t / 5)]  # 200 s, 5 fps
    assert detected == [0.0, 10.0, 30.0, 70.0, 110.0, 150.0, 190.0]  # 10, 20, 40, then capped at 40
    assert motion.refresh_interval_s == 40.0


def test_motion_gate_refresh_returns_to_normal_at_once_on_motion() -> None:
    motion = gate(refresh=10.0)
    for t in range(0, 700):  # 140 s idle: backed off to 40 s
        motion.should_detect(grey(), t / 5)
    assert motion.refresh_interval_s == 40.0
    assert motion.should_detect(grey(60), 140.0)  # motion: detected, interval back to 10 s
    assert motion.refresh_interval_s == 10.0
    later = [t / 5 for t in range(701, 800) if motion.should_detect(grey(60), t / 5)]
    assert later[0] == 140.2 and 141.0 in later  # the tail after motion
    tail_end = max(t for t in later if t < 145.0)
    assert [t for t in later if t > 145.0] == [round(tail_end + 10.0, 1)]  # refreshed 10 s later, not 40


def test_motion_gate_keeps_the_normal_refresh_while_objects_are_tracked() -> None:
    tracked = [True]
    settings = MotionSettings(refresh_interval=timedelta(seconds=10))
    motion = MotionGate(settings, [], SIZE, tail_s=1.0, tracking=lambda: tracked[0])
    detected = [t / 5 for t in range(300) if motion.should_detect(grey(), t / 5)]  # 60 s
    assert detected == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    tracked[0] = False
    idle = [t / 5 for t in range(300, 1000) if motion.should_detect(grey(), t / 5)]
    assert idle == [60.0, 80.0, 120.0, 160.0]  # backs off once nothing is tracked
    tracked[0] = True
    assert motion.should_detect(grey(), 170.0)  # a track: the interval is 10 s again, at once


def test_motion_gate_opens_on_a_moving_box() -> None:
    motion = gate()
    motion.should_detect(grey(10), 0.0)
    motion.should_detect(grey(10), 20.0)
    assert motion.should_detect(grey(60), 20.2)


def test_motion_inside_a_mask_is_ignored() -> None:
    masked = gate(masks=[Mask(points=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])])
    masked.should_detect(grey(10), 0.0)
    assert masked.changed_fraction(grey(60)) == 0.0
    open_gate = gate()
    open_gate.changed_fraction(grey(10))
    assert open_gate.changed_fraction(grey(60)) > 0.05


def test_motion_only_inside_a_mask_never_opens_the_gate() -> None:
    """A box moving back and forth inside a masked left half: only the first frame and the
    refreshes are detected, exactly as for a static scene; the same motion unmasked opens it."""
    left_half = Mask(points=[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])
    masked, open_gate = gate(masks=[left_half]), gate()
    frames = [grey(10 + (t % 10) * 5) for t in range(100)]  # x 10..55: inside the left half
    masked_decisions = [masked.should_detect(frame, t * 0.2) for t, frame in enumerate(frames)]
    assert [t * 0.2 for t, d in enumerate(masked_decisions) if d] == [0.0, 10.0]
    assert sum(open_gate.should_detect(frame, t * 0.2) for t, frame in enumerate(frames)) > 90


def test_spool_keeps_order_drops_oldest_when_full_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = EventSpool(path, max_events=5)
    for i in range(8):
        spool.append("t", f"e{i}".encode())
    assert spool.depth == 5 and spool.dropped == 3
    messages = spool.read_after(0, 10)
    assert [m.payload for m in messages] == [b"e3", b"e4", b"e5", b"e6", b"e7"]
    spool.delete(messages[0].seq)
    spool.close()
    reopened = EventSpool(path, max_events=5)
    assert reopened.depth == 4 and reopened.dropped == 3
    assert [m.payload for m in reopened.read_after(messages[1].seq, 2)] == [b"e5", b"e6"]
    reopened.close()


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(10)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(4.0 <= d <= 8.0 for d in delays[5:])
    assert len({round(d, 3) for d in delays[5:]}) > 1  # jitter: cameras do not retry in lockstep
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_sampler_takes_five_of_fifteen_frames_per_second() -> None:
    sampler = FrameSampler(5.0)
    taken = sum(sampler.take(i / 15.0) for i in range(150))  # 10 s of a 15 fps stream
    assert 49 <= taken <= 51


def test_queue_drops_the_oldest_and_counts() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(2)
    for i in range(5):
        queue.put(i)
    assert queue.dropped == 3
    assert [queue.get_nowait(), queue.get_nowait(), queue.get_nowait()] == [3, 4, None]


def test_source_errors_never_carry_the_password() -> None:
    import av.error

    exc = av.error.HTTPUnauthorizedError(1, "Unauthorized", "rtsp://admin:s3cret-pw@10.0.0.1/x")
    error = translate_error(exc, ["s3cret-pw"])
    assert isinstance(error, SourceRejectedError)
    assert "401" in error.reason and "s3cret-pw" not in error.reason
    other = translate_error(OSError(5, "odd failure with s3cret-pw inside"), ["s3cret-pw"])
    assert "s3cret-pw" not in other.reason


def test_onnx_backend_matches_ultralytics_on_bus_jpg(model_path: Path) -> None:
    from ultralytics.utils import ASSETS

    from edge.detect.registry import create_detector

    image = cv2.imread(str(ASSETS / "bus.jpg"))
    config = OnnxDetector(type="onnx", model=str(model_path), imgsz=320, max_batch=4)
    detector = create_detector(config, Path("."))
    single, batched = detector.detect([image], 0.25)[0], detector.detect([image, image], 0.25)[1]
    labels = sorted(detector.names[int(c)] for c in single.cls)
    assert labels == ["bus", "person", "person", "person", "person"]
    assert np.allclose(single.xyxy, batched.xyxy, atol=1.0)
    # MODELS.md: ultralytics gives person 0.859 [50,390,245,906] on this image with this model
    best = int(np.argmax(single.conf))
    assert detector.names[int(single.cls[best])] == "person"
    assert abs(float(single.conf[best]) - 0.859) < 0.01
    assert np.allclose(single.xyxy[best], [50, 390, 245, 906], atol=2)


def test_ultralytics_backend_detects_on_bus_jpg(model_path: Path) -> None:
    """The `ultralytics` detector type end to end (its NMS needs a torchvision that matches torch)."""
    from ultralytics.utils import ASSETS

    from contract.config.detectors import UltralyticsDetector
    from edge.detect.registry import create_detector

    image = cv2.imread(str(ASSETS / "bus.jpg"))
    detector = create_detector(UltralyticsDetector(type="ultralytics", model=str(model_path), imgsz=320), Path("."))
    found = detector.detect([image], 0.25)[0]
    assert sorted(detector.names[int(c)] for c in found.cls) == ["bus", "person", "person", "person", "person"]
    detector.close()


def test_unknown_model_path_is_a_clear_error(tmp_path: Path) -> None:
    from edge.detect.protocol import DetectorError
    from edge.detect.registry import create_detector

    with pytest.raises(DetectorError, match=r"model 'nope\.onnx' not found"):
        create_detector(OnnxDetector(type="onnx", model="nope.onnx"), tmp_path)


def test_small_grey_reads_the_luma_plane_like_a_grey_conversion() -> None:
    import av

    from edge.motion import motion_size, small_grey

    rgb = np.zeros((720, 1280, 3), np.uint8)
    rgb[:, 640:] = 200  # right half light
    rgb[300:420, 100:300] = (0, 255, 0)  # a green box on the dark half
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    small = small_grey(frame)
    assert small.shape == (90, 160) == motion_size(1280, 720)[::-1]
    reference = frame.reformat(width=160, height=90, format="gray").to_ndarray().astype(np.int16)
    # luma is limited range (16..235) where swscale's grey is full range: close, not equal
    assert np.percentile(np.abs(small.astype(np.int16) - reference), 95) <= 20
    assert small[:, 100:].mean() > small[:, :60].mean() + 100  # light half stays light
    assert small[45, 25] > small[10, 25] + 60  # the box is there (green is bright luma)
