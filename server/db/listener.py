"""A dedicated `LISTEN` connection: each notification handed to its channel's handler, in order.

One owner per connection: it reconnects with capped, jittered backoff, logs the first failure and
the recovery once, and calls `on_connect` after each (re)connect, so a user can catch up on what
it may have missed while not listening (notifications are not queued for absent listeners).
A handler's exception is logged and counted; it never stops the listener.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

import psycopg
from psycopg import sql

from contract.backoff import jittered_delay
from server.tasks import cancel_until_done

logger = logging.getLogger(__name__)

Handler = Callable[[str], Awaitable[None]]


class PgListener:
    def __init__(
        self,
        database_url: str,
        handlers: Mapping[str, Handler],
        name: str,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._url = database_url
        self._handlers = dict(handlers)
        self.name = name
        self._on_connect = on_connect
        self._max_backoff_s = max_backoff_s
        self._task: asyncio.Task[None] | None = None
        self.listening = False
        self.handler_failures = 0
        self._failing = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_until_done(self._task)
            self._task = None
        self.listening = False

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                self.listening = False
                self._failing += 1
                if self._failing == 1:
                    logger.warning("%s: LISTEN connection lost (%s); reconnecting with backoff", self.name, exc)
                await asyncio.sleep(jittered_delay(self._failing, 0.2, self._max_backoff_s))

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True, application_name=f"ioc-{self.name}")
        async with conn:
            for channel in self._handlers:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.listening = True
            if self._failing:
                logger.info("%s: listening again after %s failed connections", self.name, self._failing)
                self._failing = 0
            if self._on_connect is not None:
                await self._call("on_connect", self._on_connect())
            async for notify in conn.notifies():
                handler = self._handlers.get(notify.channel)
                if handler is not None:
                    await self._call(notify.channel, handler(notify.payload))

    async def _call(self, what: str, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            self.handler_failures += 1
            logger.exception("%s: handling %s failed", self.name, what)
