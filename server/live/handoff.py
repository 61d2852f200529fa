"""From a reader thread to asyncio: the newest few items, then the end.

A camera's reader thread (demuxing or decoding) puts items with `put_threadsafe`; the event loop
takes them with `get`. At most `size` wait: a newer item pushes the oldest out, counted as dropped
(a live picture is worth more than a complete one). `end_threadsafe` marks the end; `get` then
raises `ended()` for every caller, for good.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class NewestQueue(Generic[T]):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        size: int,
        ended: Callable[[], Exception],
        on_drop: Callable[[], object] | None = None,
    ) -> None:
        self._loop = loop
        self._size = size
        self._ended = ended
        self._on_drop = on_drop
        self._items: deque[T | None] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if item is None:
            self._items.append(None)
            raise self._ended()
        return item

    def put_threadsafe(self, item: T) -> None:
        self._call(self._put, item)

    def end_threadsafe(self) -> None:
        self._call(self._put, None)

    def count_drop_threadsafe(self) -> None:
        """An item the reader itself had to let go."""
        self._call(self._count_drop)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            self._loop.call_soon_threadsafe(callback, *args)

    def _put(self, item: T | None) -> None:
        if item is not None and len(self._items) >= self._size:
            self._items.popleft()
            self._count_drop()
        self._items.append(item)
        self._ready.set()

    def _count_drop(self) -> None:
        self.dropped += 1
        if self._on_drop is not None:
            self._on_drop()
