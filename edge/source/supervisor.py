"""One supervisor per camera: a capture thread that connects, decodes, samples, gates on motion and
hands frames to the detector, reconnecting with capped jittered backoff and reporting availability.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.backoff import Backoff
from contract.config import Camera, RtspSource
from contract.config.cameras import DetectSettings
from contract.payloads import CameraState
from edge.motion import MotionGate, motion_size, nothing_tracked, small_grey
from edge.source.frames import DropOldestQueue, FrameSampler, SampledFrame
from edge.source.packets import PacketTap
from edge.source.probe import rtsp_answers
from edge.source.retry import PROBE_TIMEOUT_S, Probe, wait_to_retry
from edge.source.stream import DecodedFrame, SourceError, SourceFinishedError, SourceUnavailableError, VideoStream
from edge.stats import CameraCounters

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraStatus:
    state: CameraState
    reason: str | None = None
    width: int | None = None
    height: int | None = None


StatusListener = Callable[[str, CameraStatus], None]


@dataclass(frozen=True)
class ReconnectPolicy:
    initial_s: float = 0.5
    maximum_s: float = 30.0
    rejected_s: float = 60.0  # wrong credentials or URL: retry slowly, never in a tight loop


# Sampled frames are kept at most this wide (aspect kept) unless detect.width/height say otherwise:
# the detector letterboxes to its input (320 or 640) and snapshots are at most 640 wide, so a
# full-resolution BGR copy of a 1080p or 4K frame would only cost CPU and memory.
SAMPLE_MAX_WIDTH = 640


def sample_size(width: int, height: int, detect: DetectSettings) -> tuple[int, int]:
    """The size of the BGR image handed to the detector (and to snapshots)."""
    if detect.width or detect.height:
        return detect.width or width, detect.height or height
    if width <= SAMPLE_MAX_WIDTH:
        return width, height
    return SAMPLE_MAX_WIDTH, max(2, round(SAMPLE_MAX_WIDTH * height / width / 2) * 2)


class CameraSupervisor:
    """Owns one camera's capture thread. `start()` / `stop()`; status changes go to `on_status`."""

    def __init__(
        self,
        camera: Camera,
        queue: DropOldestQueue[SampledFrame],
        counters: CameraCounters,
        on_status: StatusListener,
        policy: ReconnectPolicy,
        base_dir: Path,
        tracking: Callable[[], bool] = nothing_tracked,
        packets: PacketTap | None = None,
    ) -> None:
        """`tracking` says whether the camera has tracked objects (the motion gate's refresh backs
        off only while it has none); `packets` gets each demuxed packet before decoding."""
        self.camera = camera
        self._packets = packets
        self._tracking = tracking
        self._queue = queue
        self._counters = counters
        self._on_status = on_status
        self._policy = policy
        self._base_dir = base_dir
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{camera.id}", daemon=True)
        self._backoff = Backoff(policy.initial_s, policy.maximum_s)
        self._status: CameraStatus | None = None
        self._status_lock = threading.Lock()
        self._failing_since: float | None = None
        self._stream: VideoStream | None = None
        self._gate: MotionGate | None = None
        self._rng = random.Random()
        self._watchdog = threading.Thread(target=self._watch_stall, name=f"stall-{camera.id}", daemon=True)

    @property
    def status(self) -> CameraStatus | None:
        return self._status

    @property
    def keyframes_only(self) -> bool:
        """Decoding keyframes only now: nothing moves, nothing is tracked (and it is enabled)."""
        gate = self._gate
        return gate is not None and self.camera.motion.keyframes_when_idle and gate.idle()

    def start(self) -> None:
        self._thread.start()
        if isinstance(self.camera.source, RtspSource):
            self._watchdog.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._watchdog.is_alive():
            self._watchdog.join(1)
        if self._thread.is_alive():
            logger.warning("camera %s: capture thread did not stop within %.0f s", self.camera.id, timeout)

    def _set_status(self, status: CameraStatus) -> None:
        with self._status_lock:
            if status == self._status:
                return
            self._status = status
        self._on_status(self.camera.id, status)

    def _run(self) -> None:
        self._set_status(CameraStatus("connecting"))
        while not self._stop.is_set():
            try:
                self._session()
            except SourceFinishedError as exc:
                self._finished(exc)
                return
            except SourceError as exc:
                self._failed(exc)
            except Exception:
                logger.exception("camera %s: unexpected error in the capture thread", self.camera.id)
                self._failed(SourceError("internal error in the capture thread"))
        logger.debug("camera %s: capture thread stopped", self.camera.id)

    def _session(self) -> None:
        stream = VideoStream(self.camera.source, self._base_dir, self._stop, self._packets)
        stream.open()
        self._stream = stream
        try:
            self._read(stream)
        except SourceFinishedError:
            raise
        except SourceError as exc:
            self._report_failure(exc)  # now: closing a session with a frozen server may take a while
            raise
        finally:
            self._stream, self._gate = None, None
            stream.close()

    def _read(self, stream: VideoStream) -> None:
        sampler = FrameSampler(self.camera.detect.fps)
        gate: MotionGate | None = None
        for decoded in stream.frames(lambda: self.keyframes_only, self._count_packet):
            self._counters.frames_in += 1
            self._counters.decode_lag_ms_total += decoded.decode_lag_s * 1000.0
            if gate is None:
                gate = self._gate = self._online(decoded)
            if sampler.take(decoded.t):
                self._sample(decoded, gate)

    def _count_packet(self) -> None:
        self._counters.packets_in += 1

    def _watch_stall(self) -> None:
        """Reports a stalled camera at the stall timeout (no packet for that long: decoded frames come
        once a GOP while decoding keyframes only), while its capture thread still waits on FFmpeg."""
        assert isinstance(self.camera.source, RtspSource)
        stall_s = self.camera.source.stall_timeout.total_seconds()
        while not self._stop.wait(min(0.2, stall_s / 10)):
            stream, status = self._stream, self._status
            if stream is None or status is None or status.state != "online":
                continue
            if time.monotonic() - stream.last_packet_at > stall_s:
                self._report_failure(SourceUnavailableError(f"timed out: no frame for {stall_s:g} s"))

    def _online(self, decoded: DecodedFrame) -> MotionGate:
        width, height = decoded.frame.width, decoded.frame.height
        if self._failing_since is not None:
            down = time.monotonic() - self._failing_since
            logger.info("camera %s: back online after %.1f s (%dx%d)", self.camera.id, down, width, height)
        else:
            logger.info("camera %s: online (%dx%d)", self.camera.id, width, height)
        self._failing_since = None
        self._backoff.reset()
        self._set_status(CameraStatus("online", width=width, height=height))
        size = motion_size(width, height)
        return MotionGate(self.camera.motion, self.camera.masks, size, tracking=self._tracking)

    def _sample(self, decoded: DecodedFrame, gate: MotionGate) -> None:
        self._counters.frames_sampled += 1
        if not gate.should_detect(small_grey(decoded.frame), decoded.t):
            self._counters.motion_skipped += 1
            return
        width, height = sample_size(decoded.frame.width, decoded.frame.height, self.camera.detect)
        # one swscale call converts and scales: only sampled frames with motion ever become BGR
        image = decoded.frame.reformat(width=width, height=height, format="bgr24", interpolation="AREA")
        pixels = np.asarray(image.to_ndarray(), np.uint8)
        self._queue.put(SampledFrame(self.camera.id, pixels, decoded.ts, gate.motion_boxes()))

    def _report_failure(self, exc: SourceError) -> None:
        """Log the first failure of an outage once, and publish the status (from either thread)."""
        if self._stop.is_set():
            return
        with self._status_lock:
            first = self._failing_since is None
            if first:
                self._failing_since = time.monotonic()
        if first:
            logger.warning("camera %s: %s (%s); reconnecting", self.camera.id, exc.reason, self._redacted())
        else:
            logger.debug("camera %s: still failing: %s", self.camera.id, exc.reason)
        self._set_status(CameraStatus("error" if exc.permanent else "offline", reason=exc.reason))

    def _failed(self, exc: SourceError) -> None:
        if self._stop.is_set():
            return
        self._report_failure(exc)
        delay = self._backoff.next_delay()
        if exc.permanent:
            self._stop.wait(max(delay, self._policy.rejected_s))
            return
        wait_to_retry(delay, self._probe(), self._stop, self._rng)

    def _probe(self) -> Probe | None:
        source = self.camera.source
        if not isinstance(source, RtspSource):
            return None
        return lambda: rtsp_answers(source.url, PROBE_TIMEOUT_S)

    def _finished(self, exc: SourceFinishedError) -> None:
        logger.info("camera %s: %s; it stays offline", self.camera.id, exc.reason)
        self._set_status(CameraStatus("offline", reason=exc.reason))

    def _redacted(self) -> str:
        return self.camera.source.redacted_url
