"""The notifier protocol and the dispatcher that routes alert changes to channels.

Every change goes to the dashboard hub; a change's `notify` list names the push channels (MQTT,
webhooks). `deliver` only enqueues: a slow or failing channel never blocks another.

On a config reload the dispatcher swaps in a new set of notifiers: unchanged ones are kept, new
ones started, and replaced or removed ones retired in the background (they finish what is in
flight, e.g. webhook retries, then close), so no delivery is lost to a reload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from server.alerts.model import AlertChange

logger = logging.getLogger(__name__)


class Notifier(Protocol):
    channel_id: str

    async def start(self) -> None: ...

    async def deliver(self, change: AlertChange) -> None: ...

    async def retire(self) -> None:
        """Replaced by a reload: finish the deliveries in flight, then close."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Routes:
    """Where changes go: push notifiers by channel id, and the ids that mean the dashboard."""

    notifiers: Mapping[str, Notifier]
    dashboards: frozenset[str]


RETIRE_GRACE_S = 2.0


class ChangeSink(Protocol):
    """Receives every change (the dashboard hub)."""

    def publish(self, change: AlertChange) -> None: ...


class Dispatcher:
    def __init__(self, hub: ChangeSink, notifiers: Mapping[str, Notifier], dashboards: frozenset[str]) -> None:
        self.hub = hub
        self.notifiers = dict(notifiers)
        self.dashboards = dashboards
        self.unknown_channels: set[str] = set()
        self._retiring: dict[asyncio.Task[None], Notifier] = {}

    @property
    def retiring(self) -> int:
        """Replaced notifiers still finishing their deliveries."""
        return len(self._retiring)

    async def dispatch(self, change: AlertChange) -> None:
        self.hub.publish(change)
        for channel_id in change.notify:
            if channel_id in self.dashboards:
                continue
            notifier = self.notifiers.get(channel_id)
            if notifier is None:
                self._warn_unknown(channel_id)
                continue
            await notifier.deliver(change)

    def _warn_unknown(self, channel_id: str) -> None:
        if channel_id not in self.unknown_channels and len(self.unknown_channels) < 1000:
            self.unknown_channels.add(channel_id)
            logger.warning("no notifier for channel %s; its alerts reach only the dashboard", channel_id)

    async def start(self) -> None:
        for notifier in self.notifiers.values():
            await notifier.start()

    async def replace(self, routes: Routes) -> None:
        """Swap in `routes` (call between dispatches): start the new, retire the replaced."""
        current = {id(notifier) for notifier in self.notifiers.values()}
        for notifier in routes.notifiers.values():
            if id(notifier) not in current:
                await notifier.start()
        kept = {id(notifier) for notifier in routes.notifiers.values()}
        retired = [notifier for notifier in self.notifiers.values() if id(notifier) not in kept]
        self.notifiers, self.dashboards = dict(routes.notifiers), routes.dashboards
        self.unknown_channels.clear()
        for notifier in retired:
            task = asyncio.create_task(self._retire(notifier), name=f"retire-{notifier.channel_id}")
            self._retiring[task] = notifier
            task.add_done_callback(self._retired)

    async def _retire(self, notifier: Notifier) -> None:
        try:
            await notifier.retire()
        except Exception:
            logger.exception("channel %s: retiring the replaced notifier failed", notifier.channel_id)
        else:
            logger.info("channel %s: the replaced notifier finished its deliveries", notifier.channel_id)

    def _retired(self, task: asyncio.Task[None]) -> None:
        self._retiring.pop(task, None)

    async def close(self) -> None:
        for notifier in self.notifiers.values():
            await notifier.close()
        if not self._retiring:
            return
        retiring = dict(self._retiring)
        _, late = await asyncio.wait(list(retiring), timeout=RETIRE_GRACE_S)
        for task in late:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await retiring[task].close()


class MemoryNotifier:
    """Records what it is handed: the test double for a push channel."""

    def __init__(self, channel_id: str, limit: int = 10_000) -> None:
        self.channel_id = channel_id
        self.limit = limit
        self.received: list[AlertChange] = []
        self.dropped = 0

    async def start(self) -> None:
        return None

    async def deliver(self, change: AlertChange) -> None:
        if len(self.received) >= self.limit:
            self.dropped += 1
            return
        self.received.append(change)

    async def retire(self) -> None:
        return None

    async def close(self) -> None:
        return None
