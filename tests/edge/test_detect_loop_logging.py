"""The detection loop logs a failing detector once (with its traceback) and then its recovery,
never a traceback per batch."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pytest

from edge.detect.loop import DetectionLoop
from edge.detect.protocol import Detections, Detector
from edge.source.frames import BgrImage


class _Empty:
    """A detector that finds nothing (the loop is given no frames here anyway)."""

    names: Mapping[int, str] = {}
    max_batch = 4
    input_size = 320

    def detect(self, frames: Sequence[BgrImage], min_confidence: float) -> list[Detections]:
        return [Detections.empty() for _ in frames]

    def close(self) -> None:
        return None


class _Flaky:
    """Loading fails `failures` times, then works."""

    def __init__(self, failures: int) -> None:
        self.left = failures

    def __call__(self, name: str) -> Detector:
        if self.left:
            self.left -= 1
            raise RuntimeError(f"model file for {name} is corrupt")
        return _Empty()


def test_a_failing_detector_is_logged_once_then_its_recovery(caplog: pytest.LogCaptureFixture) -> None:
    loop = DetectionLoop(_Flaky(failures=5))
    caplog.set_level(logging.INFO, logger="edge.detect.loop")
    for _ in range(6):
        loop._detect_group("yolo", [])
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "cannot be loaded" in tracebacks[0].getMessage()
    assert [r.getMessage() for r in caplog.records if not r.exc_info] == [
        "detector yolo load: working again after 5 failure(s)"
    ]
