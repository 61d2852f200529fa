"""Helpers for streaming WebSocket routes: notice a client that leaves even while the stream is quiet."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import WebSocket

T = TypeVar("T")


async def until_disconnect(websocket: WebSocket) -> None:
    """Returns when the client goes away (whatever it sends meanwhile is ignored)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def next_unless(next_message: Callable[[], Awaitable[T]], gone: asyncio.Task[None]) -> T | None:
    """The next message, or None once the client has disconnected (or was cut off)."""
    if gone.done():
        return None
    getter = asyncio.ensure_future(next_message())
    await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
    if not getter.done():
        getter.cancel()
        return None
    return getter.result()
