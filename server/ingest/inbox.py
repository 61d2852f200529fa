"""A bounded inbox filled and drained on the asyncio loop (no threads): the JetStream transport's."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class InboxFullError(RuntimeError):
    """The owner put more than it promised to hold: a bug, never a silent drop."""


class AsyncInbox(Generic[T]):
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def extend(self, items: Iterable[T]) -> None:
        self._items.extend(items)
        if len(self._items) > self._capacity:
            raise InboxFullError(f"inbox holds {len(self._items)} > {self._capacity}")
        if self._items:
            self._ready.set()

    def append(self, item: T) -> None:
        if len(self._items) >= self._capacity:
            raise InboxFullError(f"inbox holds {len(self._items)} >= {self._capacity}")
        self._items.append(item)
        self._ready.set()

    async def wait(self, timeout: float | None = None) -> bool:
        if self._items:
            return True
        self._ready.clear()
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def take(self, limit: int) -> list[T]:
        count = min(limit, len(self._items))
        return [self._items.popleft() for _ in range(count)]
