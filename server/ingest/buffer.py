"""The hand-over from paho's network thread to the asyncio loop: a bounded buffer that applies
back-pressure.

The broker is not trusted to honour `Receive Maximum` (Mosquitto 2.0.11 was measured sending
24,002 unacknowledged messages against 2,000). When the buffer is full, `put` blocks paho's
network thread: it stops reading the socket, TCP's window closes, and the broker keeps the rest
queued in the session (Mosquitto's `max_queued_messages`). Nothing is refused and left
unacknowledged; acknowledgements never wait on `put` (paho queues them from the loop thread and
sends them once the network thread runs), so this cannot deadlock.

A message is dropped (counted, not acknowledged: the broker redelivers it on the next session)
only when the buffer is closed while the network thread waits (the server stops).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.metrics import Metrics

logger = logging.getLogger(__name__)

_WAIT_SLICE_S = 0.5  # a blocked put looks at `closed` this often


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # the broker connection it arrived on; acks go only to that connection
    received_at: datetime
    arrived: float  # time.monotonic(), for the lag metric


class InboundBuffer:
    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int, metrics: Metrics) -> None:
        self._loop = loop
        self._capacity = capacity
        self._low_water = capacity // 2  # a paused reader resumes once the buffer is down to this
        self._metrics = metrics
        self._items: deque[Inbound] = deque()
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._ready = asyncio.Event()
        self._closed = False
        self._paused_since: float | None = None  # back-pressure on since (monotonic), None when off
        self._pauses = 0
        self.dropped = 0
        self.pauses = 0
        """times the network thread had to wait for room (each one counted in the metrics)"""

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def backpressure(self) -> bool:
        """True from the first wait for room until the buffer was emptied again."""
        return self._paused_since is not None

    def put(self, item: Inbound) -> bool:
        """From paho's network thread: waits while full. False (counted) when closed meanwhile."""
        with self._lock:
            if len(self._items) >= self._capacity and not self._closed:
                self._wait_for_room()
            if self._closed:
                self.dropped += 1
                self._metrics.dropped.inc()
                return False
            was_empty = not self._items
            self._items.append(item)
        if was_empty:
            self._loop.call_soon_threadsafe(self._ready.set)
        return True

    def _wait_for_room(self) -> None:
        """With the lock held; counts the pause and logs the first one of an episode."""
        started = time.monotonic()
        self.pauses += 1
        self._pauses += 1
        self._metrics.backpressure_pauses.inc()
        if self._paused_since is None:
            self._paused_since = started
            logger.warning(
                "inbound buffer full (%d messages): reading from the broker paused until the writer "
                "catches up (TCP back-pressure; logged once until the buffer is empty again)",
                self._capacity,
            )
        while len(self._items) > self._low_water and not self._closed:
            self._space.wait(_WAIT_SLICE_S)
        self._metrics.backpressure_seconds.inc(time.monotonic() - started)

    def __len__(self) -> int:
        return len(self._items)

    async def wait(self, timeout: float | None = None) -> bool:
        """Until an item is there (True) or the timeout passes (False)."""
        if self._items:
            return True
        self._ready.clear()
        if self._items:
            return True
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def take(self, limit: int) -> list[Inbound]:
        with self._lock:
            count = min(limit, len(self._items))
            items = [self._items.popleft() for _ in range(count)]
            if count and len(self._items) <= self._low_water:
                self._space.notify()
            if self._paused_since is not None and not self._items:
                self._resumed()
        return items

    def _resumed(self) -> None:
        assert self._paused_since is not None
        logger.info(
            "inbound buffer emptied: back-pressure off after %.1f s (%d pauses)",
            time.monotonic() - self._paused_since,
            self._pauses,
        )
        self._paused_since, self._pauses = None, 0

    def not_acked(self, items: Sequence[Inbound]) -> None:
        """Committed QoS 1 messages that could not be acknowledged (their connection is gone):
        the broker delivers them again and the store keeps them once."""
        if items:
            self._metrics.unacked.inc(len(items))

    def close(self) -> None:
        """Stop waiting for room: a blocked `put` returns False (the server is stopping)."""
        with self._lock:
            self._closed = True
            self._space.notify_all()
