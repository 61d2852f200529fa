"""The live detections channel: the tracked objects of every detected frame, lossy, beside the events.

The detection thread offers each tracked frame to its camera's `LiveCamera` (never blocks: a
bounded drop-oldest queue per worker); one thread serialises them and hands them to the sender's
current session (`publish_live`: MQTT QoS 0 or a core NATS publish, outside the durable stream).
While the link is down or busy a message is dropped and counted, never queued for later: a box
that arrives late would be drawn over the wrong picture. Nothing here touches the spool.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contract.payloads import LiveDetectionsPayload, LiveObject
from contract.topics import Topics
from edge.events.model import TrackedObject
from edge.source.frames import SampledFrame

logger = logging.getLogger(__name__)

QUEUE_SIZE = 64
"""Frames waiting for the live thread at most (all cameras of a worker); the oldest goes first."""
MAX_OBJECTS = 500
"""`LiveDetectionsPayload.objects` holds at most this many (the most confident are kept)."""


class LiveSink(Protocol):
    def publish_live(self, topic: str, payload: bytes) -> bool:
        """Send now or not at all; False when not sent. Never blocks."""
        ...


@dataclass
class LiveCounts:
    """Per camera, since it started; changed under the channel's lock."""

    published: int = 0
    dropped: int = 0  # the queue overflowed, or the link was down or busy


@dataclass(frozen=True)
class LiveFrame:
    camera: LiveCamera
    seq: int
    ts: datetime
    width: int
    height: int
    objects: tuple[TrackedObject, ...]

    def payload(self) -> LiveDetectionsPayload:
        kept = self.objects
        if len(kept) > MAX_OBJECTS:
            kept = tuple(sorted(kept, key=lambda o: o.confidence, reverse=True)[:MAX_OBJECTS])
        objects = [
            LiveObject(box=o.box, label=o.label, confidence=min(max(o.confidence, 0.0), 1.0), track_id=o.track_id)
            for o in kept
        ]
        return LiveDetectionsPayload(
            camera_id=self.camera.camera_id,
            ts=self.ts,
            seq=self.seq,
            width=self.width,
            height=self.height,
            objects=objects,
        )


class LiveCamera:
    """One camera's side: numbers its detected frames (`seq`) and offers them to the channel."""

    def __init__(self, channel: LiveChannel, camera_id: str, topic: str) -> None:
        self.camera_id = camera_id
        self.topic = topic
        self.counts = LiveCounts()
        self._channel = channel
        self._seq = 0

    def offer(self, frame: SampledFrame, objects: Sequence[TrackedObject]) -> None:
        """On the detection thread: after the frame is tracked (an empty `objects`: nothing there)."""
        height, width = frame.image.shape[:2]
        self._channel.put(LiveFrame(self, self._seq, frame.ts, width, height, tuple(objects)))
        self._seq += 1


class LiveChannel:
    """The worker's live thread and its bounded queue."""

    def __init__(self, sink: LiveSink, topics: Topics, maxsize: int = QUEUE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._sink = sink
        self._topics = topics
        self._items: deque[LiveFrame] = deque()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsent = 0  # in a row: logged when a streak starts and when it ends, never per frame

    def camera(self, camera_id: str) -> LiveCamera:
        return LiveCamera(self, camera_id, self._topics.camera_detections(camera_id))

    def put(self, item: LiveFrame) -> None:
        with self._lock:
            if len(self._items) >= self._maxsize:
                self._items.popleft().camera.counts.dropped += 1
            self._items.append(item)
        self._wake.set()

    def __len__(self) -> int:
        """Frames waiting for the live thread."""
        with self._lock:
            return len(self._items)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-detections", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _take(self) -> LiveFrame | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._take()
            if item is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                sent = self._sink.publish_live(item.camera.topic, item.payload().to_json())
            except Exception:  # a bad frame must not end the thread; the sender owns the link's errors
                logger.exception("camera %s: live detections could not be sent", item.camera.camera_id)
                sent = False
            with self._lock:
                if sent:
                    item.camera.counts.published += 1
                else:
                    item.camera.counts.dropped += 1
            self._log_streak(sent)

    def _log_streak(self, sent: bool) -> None:
        if not sent:
            if self._unsent == 0:
                logger.info("live detections: the link is down or busy; dropping them (counted) until it is back")
            self._unsent += 1
        elif self._unsent:
            logger.info("live detections: sent again after %d dropped", self._unsent)
            self._unsent = 0
