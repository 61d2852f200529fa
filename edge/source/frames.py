"""Frames handed from a camera's capture thread to the detector, through a bounded queue."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

BgrImage = npt.NDArray[np.uint8]
T = TypeVar("T")


@dataclass(frozen=True)
class SampledFrame:
    """A frame picked for detection: BGR pixels at the detect size, when it was captured, and where
    it moved (boxes as x1, y1, x2, y2 fractions of the frame; empty: no motion, or no gate)."""

    camera_id: str
    image: BgrImage
    ts: datetime
    motion: tuple[tuple[float, float, float, float], ...] = ()


class DropOldestQueue(Generic[T]):
    """A bounded queue: putting into a full queue drops the oldest item and counts it."""

    def __init__(self, maxsize: int, wake: threading.Event | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._wake = wake
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._lock:
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
        if self._wake is not None:
            self._wake.set()

    def set_wake(self, wake: threading.Event) -> None:
        self._wake = wake

    def get_nowait(self) -> T | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class FrameSampler:
    """Picks frames at `fps` from a stream of any rate, on the stream's own clock (seconds)."""

    def __init__(self, fps: float) -> None:
        self._interval = 1.0 / fps
        self._next: float | None = None

    def take(self, t: float) -> bool:
        if self._next is None or t - self._next > self._interval or t < self._next - 2 * self._interval:
            self._next = t + self._interval
            return True
        # a little slack so that a 15 fps stream sampled at 5 fps gives 5, not 3.75
        if t >= self._next - 0.25 * self._interval:
            self._next += self._interval
            return True
        return False
