"""The live detections feed: messages from a broker client to the overlay fan-out, bounded.

A broker's network thread (paho) or callback (nats-py) calls `offer`; at most `capacity` messages
wait for the event loop, more are dropped and counted (the channel is lossy by design: a frame
that is not drawn is better than a late one). On the loop each message is parsed, checked against
the cameras of streams.yaml and handed to `DetectionFanout.publish_frame`. Counts by outcome:
`received` (fanned out), `invalid` (refused, the first per camera logged), `dropped` (no room),
`unknown` (a camera streams.yaml does not have), `stale` (its picture too old to draw).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from contract.timeutil import utc_now
from contract.topics import Topics
from server.metrics import Metrics
from server.overlay.fanout import DetectionFanout
from server.overlay.frames import InvalidFrameError, parse_frame

logger = logging.getLogger(__name__)

OUTCOMES = ("received", "invalid", "dropped", "unknown", "stale")


class LiveFrameFeed:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fanout: DetectionFanout,
        topics: Topics,
        known_camera: Callable[[str], bool],
        metrics: Metrics | None = None,
        capacity: int = 512,
    ) -> None:
        self._loop = loop
        self._fanout = fanout
        self._topics = topics
        self._known = known_camera
        self._metrics = metrics
        self._capacity = capacity
        self._pending = 0
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self.counts = dict.fromkeys(OUTCOMES, 0)

    def offer(self, topic: str, payload: bytes) -> None:
        """From any thread: queue one message for the loop, or drop it when `capacity` wait."""
        with self._lock:
            full = self._pending >= self._capacity
            if not full:
                self._pending += 1
        if full:
            self.count_dropped()
            return
        self._loop.call_soon_threadsafe(self._take, topic, payload, utc_now())

    def _take(self, topic: str, payload: bytes, received_at: datetime) -> None:
        with self._lock:
            self._pending -= 1
        self.handle(topic, payload, received_at)

    def handle(self, topic: str, payload: bytes, received_at: datetime) -> None:
        """On the loop: parse, check and fan out one message."""
        camera_id = self._topics.parse_detections_camera_id(topic)
        if camera_id is None or not self._known(camera_id):
            self._count("unknown")
            return
        try:
            frame = parse_frame(camera_id, payload)
        except InvalidFrameError as exc:
            self._count("invalid")
            if camera_id not in self._logged:
                self._logged.add(camera_id)
                logger.warning("live detections refused (logged once per camera): %s", exc)
            return
        self._count("received" if self._fanout.publish_frame(frame, received_at) else "stale")

    def count_dropped(self) -> None:
        """A message the broker client itself dropped (its own buffer was full)."""
        self._count("dropped")

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        if self._metrics is not None:
            self._metrics.overlay_frames.labels(outcome=outcome).inc()
