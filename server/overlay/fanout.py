"""Per-camera fan-out of detection events and live detection frames to overlay clients (WebSockets).

An ingest observer: `on_events` is called after commit and only puts messages on bounded queues,
so it never waits on a client. A client that falls `queue_size` messages behind is cut off and
counted (it reconnects and gets the recent detections again); it never slows the ingest or the
other viewers. The last few seconds of detections per camera are kept for clients that join.
Events whose frame is older than `max_age_s` (a redelivered backlog after a restart) are counted as
stale and not drawn: an overlay of old positions over live video would mislead.

Live frames (`publish_frame`, one per detected picture, from `server.overlay.feed`) go the same
way as `{"type": "frame"}` messages; the last `recent_frames` of each camera are replayed to a
client that joins, so that it can match the picture it shows at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contract.payloads import LiveDetectionsPayload
from contract.timeutil import utc_now
from server.ingest.observers import NullObserver
from server.metrics import Metrics
from server.overlay.frames import frame_message
from server.overlay.model import OverlayDetection
from server.store.records import StoredEvent

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OverlaySettings:
    queue_size: int = 64
    max_clients_per_camera: int = 50
    recent_s: float = 3.0
    """detections younger than this are replayed to a client that joins"""
    recent_max: int = 50
    """at most this many kept per camera for the replay"""
    max_age_s: float = 30.0
    """events whose frame time is older than this when they arrive are not fanned out"""
    frame_max_age_s: float = 5.0
    """live frames whose picture is older than this when they arrive are not fanned out"""
    recent_frames: int = 30
    """live frames kept per camera for the replay (younger than `recent_s`)"""


class OverlaySubscription:
    def __init__(self, camera_id: str, queue_size: int) -> None:
        self.camera_id = camera_id
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=queue_size + 1)
        self.cut_off = False

    async def next(self) -> Message | None:
        """The next message; None once the fan-out has cut this client off."""
        return await self.queue.get()

    def offer(self, message: Message) -> bool:
        """Queue `message`; False (and the client is cut off) when it is too far behind."""
        if self.cut_off:
            return False
        if self.queue.qsize() >= self.queue.maxsize - 1:
            self.cut_off = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return False
        self.queue.put_nowait(message)
        return True


class DetectionFanout(NullObserver):
    def __init__(
        self,
        settings: OverlaySettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings or OverlaySettings()
        self._clock = clock
        self._metrics = metrics
        self._clients: dict[str, set[OverlaySubscription]] = {}
        self._recent: dict[str, deque[tuple[float, Message]]] = {}
        self._frames: dict[str, deque[tuple[float, Message]]] = {}
        self.published = 0
        self.frames = 0
        self.delivered = 0
        self.stale = 0
        self.cut_off = 0
        """clients dropped for being too slow"""

    def clients(self, camera_id: str | None = None) -> int:
        if camera_id is not None:
            return len(self._clients.get(camera_id, ()))
        return sum(len(clients) for clients in self._clients.values())

    def subscribe(self, camera_id: str) -> OverlaySubscription:
        """A new client of `camera_id`; its queue starts with the camera's recent detections."""
        clients = self._clients.setdefault(camera_id, set())
        if len(clients) >= self.settings.max_clients_per_camera:
            if self._metrics is not None:
                self._metrics.overlay_refused.inc()
            raise ConnectionRefusedError(f"{len(clients)} overlay clients are watching camera '{camera_id}'")
        subscription = OverlaySubscription(camera_id, self.settings.queue_size)
        since = time.monotonic() - self.settings.recent_s
        recent = [message for at, message in self._recent.get(camera_id, ()) if at >= since]
        frames = [message for at, message in self._frames.get(camera_id, ()) if at >= since]
        snapshot = {"type": "snapshot", "camera_id": camera_id, "detections": recent, "frames": frames}
        subscription.queue.put_nowait(snapshot)
        clients.add(subscription)
        return subscription

    def unsubscribe(self, subscription: OverlaySubscription) -> None:
        clients = self._clients.get(subscription.camera_id)
        if clients is not None:
            clients.discard(subscription)
            if not clients:
                del self._clients[subscription.camera_id]

    def publish(self, event: StoredEvent) -> None:
        if (self._clock() - event.time).total_seconds() > self.settings.max_age_s:
            self.stale += 1
            if self._metrics is not None:
                self._metrics.overlay_stale.inc()
            return
        detection = OverlayDetection.model_validate(event).model_dump(mode="json")
        recent = self._recent.setdefault(event.camera_id, deque(maxlen=self.settings.recent_max))
        recent.append((time.monotonic(), detection))
        self.published += 1
        self._deliver(event.camera_id, {"type": "detection", "detection": detection})

    def publish_frame(self, frame: LiveDetectionsPayload, received_at: datetime) -> bool:
        """Fan out one live frame; False (not sent) when its picture is older than `frame_max_age_s`."""
        if (received_at - frame.ts).total_seconds() > self.settings.frame_max_age_s:
            return False
        message = frame_message(frame, received_at)
        recent = self._frames.setdefault(frame.camera_id, deque(maxlen=self.settings.recent_frames))
        recent.append((time.monotonic(), message))
        self.frames += 1
        self._deliver(frame.camera_id, message)
        return True

    def reply(self, subscription: OverlaySubscription, message: Message) -> None:
        """A message for one client only (a clock pong), behind what it already has queued."""
        if not subscription.offer(message):
            self._cut(subscription)

    def _deliver(self, camera_id: str, message: Message) -> None:
        for subscription in list(self._clients.get(camera_id, ())):
            if subscription.offer(message):
                self.delivered += 1
            else:
                self._cut(subscription)

    def _cut(self, subscription: OverlaySubscription) -> None:
        self.cut_off += 1
        if self._metrics is not None:
            self._metrics.overlay_cut_off.inc()
        self.unsubscribe(subscription)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            self.publish(event)

    def stats(self) -> dict[str, int]:
        return {
            "clients": self.clients(),
            "published": self.published,
            "frames": self.frames,
            "delivered": self.delivered,
            "stale": self.stale,
            "cut_off": self.cut_off,
        }
