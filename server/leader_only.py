"""Leader-only components: started when this replica gains leadership, stopped when it loses it.

The alert engine (with its ticker and outbox dispatcher) and the retention loop run on one
replica at a time; anything else stateful registers here the same way (`Services.leader_only`):
`add(component)` before the app starts, or later (a late one starts at once on a leader).
With `SoleLeadership` (one replica) they run from start to stop, as a plain component would.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from server.leadership import Leadership
from server.metrics import Metrics

if TYPE_CHECKING:
    from server.state import Component, Services

logger = logging.getLogger(__name__)

RETRY_S = 2.0


class LeaderOnlyComponents:
    def __init__(self, leadership: Leadership, metrics: Metrics, retry_s: float = RETRY_S) -> None:
        self.leadership = leadership
        self.retry_s = retry_s
        self._metrics = metrics
        self._components: list[Component] = []
        self._running: list[Component] = []
        self._state: Services | None = None
        self._lock = asyncio.Lock()
        self._retry: asyncio.Task[None] | None = None
        self.start_failures = 0
        self._failing: set[int] = set()
        leadership.on_change(self._changed)

    @property
    def running(self) -> tuple[Component, ...]:
        return tuple(self._running)

    async def add(self, component: Component) -> None:
        self._components.append(component)
        async with self._lock:
            if self._state is not None and self.leadership.is_leader:
                await self._start(component, self._state)

    def bind(self, state: Services) -> None:
        """The services the components start with (from the first gain on)."""
        self._state = state

    async def _changed(self, leader: bool) -> None:
        self._metrics.leader.set(1 if leader else 0)
        self._metrics.leader_changes.labels("gained" if leader else "lost").inc()
        async with self._lock:
            if leader:
                await self._start_all()
            else:
                await self.stop_all()

    async def _start_all(self) -> None:
        assert self._state is not None, "bind() the services before leadership starts"
        waiting = [component for component in self._components if component not in self._running]
        for component in waiting:
            await self._start(component, self._state)
        if any(component in self._running for component in waiting):
            logger.info("leader: %s of %s components running", len(self._running), len(self._components))
        if len(self._running) < len(self._components) and (self._retry is None or self._retry.done()):
            self._retry = asyncio.create_task(self._start_later(), name="leader-only-retry")

    async def _start_later(self) -> None:
        """A component that failed to start (the database away) is tried again while leader."""
        while True:
            await asyncio.sleep(self.retry_s)
            async with self._lock:
                if not self.leadership.is_leader:
                    return
                await self._start_all()
                if len(self._running) == len(self._components):
                    return

    async def _start(self, component: Component, state: Services) -> None:
        try:
            await component.start(state)
        except Exception:
            self.start_failures += 1
            if id(component) not in self._failing:  # logged once, with the recovery
                self._failing.add(id(component))
                name = type(component).__name__
                logger.exception("leader-only component %s failed to start; tried again every %ss", name, self.retry_s)
            await component.stop()
            return
        if id(component) in self._failing:
            self._failing.discard(id(component))
            logger.info("leader-only component %s started after failing", type(component).__name__)
        self._running.append(component)

    async def stop_all(self) -> None:
        if self._retry is not None and self._retry is not asyncio.current_task():
            self._retry.cancel()
        while self._running:
            component = self._running.pop()
            try:
                await component.stop()
            except Exception:
                logger.exception("leader-only component %s failed to stop", type(component).__name__)
