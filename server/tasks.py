"""Stopping background tasks for good."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_until_done(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has really ended.

    A library awaited inside the task may swallow one cancellation (psycopg does while a query runs)
    and the task's loop would then sleep on: cancel again until it is done."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
