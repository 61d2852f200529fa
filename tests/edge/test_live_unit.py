"""The live detections channel's parts: arrival stamps matched by pts (decoder reordering), the
bounded drop-oldest queue and its counts, a link that refuses (down or busy)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from contract.payloads import LiveDetectionsPayload
from contract.topics import Topics
from edge.events.model import TrackedObject
from edge.publish.live import LiveChannel
from edge.source.arrival import ArrivalTimes
from edge.source.frames import SampledFrame


def test_frames_that_leave_the_decoder_late_get_their_own_packets_arrival() -> None:
    arrivals = ArrivalTimes()
    # decode order I0 P3 B1 B2 (a reordering decoder): P3 comes out after B2, two packets later
    stamps = {pts: arrivals.packet(pts) for pts in (0, 3, 1, 2)}
    time.sleep(0.01)
    for pts in (0, 1, 2, 3):
        assert arrivals.frame(pts) == stamps[pts]
    assert len(arrivals) == 0 and arrivals.unmatched == 0


def test_skipped_packets_are_forgotten_and_the_map_stays_bounded() -> None:
    arrivals = ArrivalTimes(max_waiting=8)
    for pts in range(5):  # keyframes-only decoding: packets 1..4 never come out of the decoder
        arrivals.packet(pts)
    arrivals.frame(0)
    arrivals.packet(5)
    assert arrivals.frame(5) is not None and len(arrivals) == 0  # 1..4 swept
    for pts in range(100):
        arrivals.packet(pts)
    assert len(arrivals) == 8
    before = datetime.now(UTC)
    late = arrivals.frame(3)  # forgotten: stamped at decode, and counted
    assert late.ts >= before and arrivals.unmatched == 1


def test_bad_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_waiting must be at least 1"):
        ArrivalTimes(0)


class GateSink:
    """A link whose publish waits on a gate (a slow link) and can refuse (down)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.up = True

    def publish_live(self, topic: str, payload: bytes) -> bool:
        self.gate.wait(5)
        if not self.up:
            return False
        self.sent.append((topic, json.loads(payload)))
        return True


def frame(n: int) -> SampledFrame:
    return SampledFrame("cam", np.zeros((90, 160, 3), np.uint8), datetime(2026, 1, 1, 0, 0, n % 60, tzinfo=UTC))


def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_payloads_carry_the_tracked_objects_seq_and_capture_time() -> None:
    sink = GateSink()
    channel = LiveChannel(sink, Topics("ioc"))
    camera = channel.camera("cam")
    channel.start()
    person = TrackedObject(7, "person", 0.81, (0.1, 0.2, 0.3, 0.9))
    camera.offer(frame(1), [person])
    camera.offer(frame(2), [])
    assert wait_until(lambda: len(sink.sent) == 2, 5)
    channel.stop()
    (topic, first), (_, second) = sink.sent
    assert topic == "live/ioc/cameras/cam/detections"
    parsed = LiveDetectionsPayload.model_validate(first)
    assert (parsed.seq, parsed.ts, parsed.width, parsed.height) == (0, frame(1).ts, 160, 90)
    assert [(o.track_id, o.label, o.confidence, o.box) for o in parsed.objects] == [
        (7, "person", 0.81, (0.1, 0.2, 0.3, 0.9))
    ]
    assert second["seq"] == 1 and second["objects"] == []
    assert (camera.counts.published, camera.counts.dropped) == (2, 0)


def test_a_slow_link_drops_the_oldest_and_a_down_link_drops_everything_counted() -> None:
    sink = GateSink()
    sink.gate.clear()
    channel = LiveChannel(sink, Topics("ioc"), maxsize=4)
    camera = channel.camera("cam")
    channel.start()
    camera.offer(frame(0), [])
    assert wait_until(lambda: len(channel) == 0, 5)  # the live thread holds it, waiting on the link
    began = time.perf_counter()
    for n in range(1, 20):
        camera.offer(frame(n), [])
    offered_s = time.perf_counter() - began
    assert offered_s < 0.1  # the detection thread never waits on the link
    sink.gate.set()
    assert wait_until(lambda: camera.counts.published + camera.counts.dropped == 20, 5)
    # one was taken by the live thread before the gate opened; the 4 newest waited; 15 dropped
    assert camera.counts.published == 5 and camera.counts.dropped == 15
    assert [p["seq"] for _, p in sink.sent] == [0, 16, 17, 18, 19]
    sink.up = False
    for n in range(3):
        camera.offer(frame(n), [])
    assert wait_until(lambda: camera.counts.dropped == 18, 5)
    sink.up = True  # back: nothing of the outage is sent later
    time.sleep(0.2)
    assert len(sink.sent) == 5
    channel.stop()
