"""Counters per camera, turned into rates for the periodic stats message."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

from contract.payloads import CameraStats


@dataclass
class CameraCounters:
    """Monotonic counters; each is written by one thread only."""

    frames_in: int = 0  # decoded (keyframes only while idle)
    packets_in: int = 0  # demuxed: every frame the camera sent
    frames_sampled: int = 0
    motion_skipped: int = 0
    inferences: int = 0
    inference_ms_total: float = 0.0
    region_crops: int = 0  # crops detected on instead of whole frames (detection on motion regions)
    events: int = 0
    decode_lag_ms_total: float = 0.0  # packet arrival -> frame out of the decoder, summed over frames_in

    def snapshot(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


@dataclass
class RateWindow:
    """Rates between two reads of the counters."""

    last: dict[str, float] = field(default_factory=dict)
    last_time: float = field(default_factory=time.monotonic)

    def rates(self, counters: CameraCounters) -> tuple[dict[str, float], float]:
        now, current = time.monotonic(), counters.snapshot()
        elapsed = max(now - self.last_time, 1e-6)
        delta = {key: value - self.last.get(key, 0.0) for key, value in current.items()}
        self.last, self.last_time = current, now
        return delta, elapsed


def camera_stats(camera_id: str, counters: CameraCounters, window: RateWindow, dropped: int) -> CameraStats:
    delta, elapsed = window.rates(counters)
    inferences, decoded = delta["inferences"], delta["frames_in"]
    return CameraStats(
        camera_id=camera_id,
        fps_in=round(delta["packets_in"] / elapsed, 2),  # what the camera sends
        fps_decoded=round(delta["frames_in"] / elapsed, 2),  # what was decoded (keyframes only while idle)
        fps_detected=round(inferences / elapsed, 2),
        frames_dropped=dropped,
        inference_ms=round(delta["inference_ms_total"] / inferences, 1) if inferences else None,
        frames_motion_skipped=counters.motion_skipped,
        inferences=counters.inferences,
        decode_lag_ms=round(delta["decode_lag_ms_total"] / decoded, 1) if decoded else None,
    )
