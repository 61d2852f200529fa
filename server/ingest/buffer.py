"""The hand-over from paho's network thread to the asyncio loop: a bounded buffer.

The broker never sends more than `Receive Maximum` unacknowledged QoS 1 messages, so the buffer
stays small by itself; the hard cap is a safety net, and anything it refuses is counted and left
unacknowledged (the broker redelivers it on the next connection).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime


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
    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self._loop = loop
        self._capacity = capacity
        self._items: deque[Inbound] = deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, item: Inbound) -> bool:
        """From any thread. False (and counted) when full."""
        with self._lock:
            if len(self._items) >= self._capacity:
                self.dropped += 1
                return False
            was_empty = not self._items
            self._items.append(item)
        if was_empty:
            self._loop.call_soon_threadsafe(self._ready.set)
        return True

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
            return [self._items.popleft() for _ in range(count)]
