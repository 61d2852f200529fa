"""Keeps the ingest tasks alive: a task that raises is restarted with capped, jittered backoff.

No exception (a decoder bug, a store error nobody foresaw, a transport failure) can end ingest
silently: the first failure of a task is logged with its traceback, repeats while it keeps
failing are counted, and the recovery (the next commit) is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from contract.backoff import Backoff

logger = logging.getLogger(__name__)

HEALTHY_AFTER_S = 30.0
"""A task that ran this long without failing starts its backoff from the beginning again."""


class Supervisor:
    def __init__(self, on_restart: Callable[[str], object], initial_s: float = 0.5, maximum_s: float = 30.0) -> None:
        self._on_restart = on_restart
        self._initial, self._maximum = initial_s, maximum_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.failing: dict[str, int] = {}
        """task name -> consecutive failures, while a task has failed since the last progress"""

    @property
    def down(self) -> list[str]:
        return sorted(self.failing)

    def spawn(
        self,
        name: str,
        body: Callable[[], Awaitable[None]],
        on_failure: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._tasks[name] = asyncio.create_task(self._run(name, body, on_failure), name=name)

    def progress(self) -> None:
        """Ingest committed something: every failing task has recovered."""
        for name, failures in self.failing.items():
            logger.info("ingest task %s recovered after %d failures", name, failures)
        self.failing.clear()

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = {}

    async def _run(
        self, name: str, body: Callable[[], Awaitable[None]], on_failure: Callable[[], Awaitable[None]] | None
    ) -> None:
        backoff = Backoff(self._initial, self._maximum)
        while True:
            started = time.monotonic()
            try:
                await body()
                raise RuntimeError(f"ingest task {name} returned")
            except asyncio.CancelledError:
                raise
            except Exception:
                if time.monotonic() - started > HEALTHY_AFTER_S:
                    backoff.reset()
                self._failed(name)
                if on_failure is not None:
                    await self._settle_failure(name, on_failure)
            await asyncio.sleep(backoff.next_delay())

    def _failed(self, name: str) -> None:
        failures = self.failing.get(name, 0) + 1
        self.failing[name] = failures
        self._on_restart(name)
        if failures == 1:
            logger.exception("ingest task %s failed; restarting it with backoff (ingest is down meanwhile)", name)
        else:
            logger.debug("ingest task %s failed again (%d in a row)", name, failures, exc_info=True)

    async def _settle_failure(self, name: str, on_failure: Callable[[], Awaitable[None]]) -> None:
        try:
            await on_failure()
        except Exception:
            logger.exception("ingest task %s: handing its messages back failed", name)
