"""The notifier protocol and the dispatcher that routes alert changes to channels.

Every change goes to the dashboard hub; a change's `notify` list names the push channels (MQTT,
webhooks). `deliver` only enqueues: a slow or failing channel never blocks another.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from server.alerts.model import AlertChange

logger = logging.getLogger(__name__)


class Notifier(Protocol):
    channel_id: str

    async def start(self) -> None: ...

    async def deliver(self, change: AlertChange) -> None: ...

    async def close(self) -> None: ...


class ChangeSink(Protocol):
    """Receives every change (the dashboard hub)."""

    def publish(self, change: AlertChange) -> None: ...


class Dispatcher:
    def __init__(self, hub: ChangeSink, notifiers: Mapping[str, Notifier], dashboards: frozenset[str]) -> None:
        self.hub = hub
        self.notifiers = dict(notifiers)
        self.dashboards = dashboards
        self.unknown_channels: set[str] = set()

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

    async def close(self) -> None:
        for notifier in self.notifiers.values():
            await notifier.close()


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

    async def close(self) -> None:
        return None
