"""The notifier protocol, the delivery record, and the dispatcher that routes alert changes.

Every change goes to the dashboard hub; a change's push channels (MQTT, webhooks) each get a
`Delivery`, a row of the alert outbox written in the same transaction as the change (see
`outbox.py`). `deliver` only enqueues: a slow or failing channel never blocks another, and each
notifier records in the outbox what became of the delivery, so a restart resumes what was pending.

On a config reload the dispatcher swaps in a new set of notifiers: unchanged ones are kept, new
ones started, and replaced or removed ones retired in the background (they finish what is in
flight, e.g. webhook retries, then close), so no delivery is lost to a reload.

This package depends on `contract` only (payloads and channel config), never on `server.alerts`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contract.payloads import AlertPayload
from server.notify.outbox import DeadDelivery, Delivery, DeliveryLedger

logger = logging.getLogger(__name__)


class Notifier(Protocol):
    channel_id: str

    @property
    def in_flight(self) -> int:
        """Deliveries handed over and not yet delivered or dead."""
        ...

    async def start(self) -> None: ...

    async def deliver(self, delivery: Delivery) -> None: ...

    async def retire(self) -> None:
        """Replaced by a reload: finish the deliveries in flight, then close."""
        ...

    async def close(self) -> None: ...


class DeliveryCounts:
    """Finished deliveries by (channel, outcome): `delivered`, `dead`, `dropped`; exported as a metric."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def count(self, channel_id: str, outcome: str) -> None:
        self.counts[(channel_id, outcome)] += 1


@dataclass(frozen=True, slots=True)
class Routes:
    """Where changes go: push notifiers by channel id, and the ids that mean the dashboard."""

    notifiers: Mapping[str, Notifier]
    dashboards: frozenset[str]


RETIRE_GRACE_S = 2.0
MAX_UNKNOWN_CHANNELS = 1000


class ChangeSink(Protocol):
    """Receives every change (the dashboard hub)."""

    def publish(self, action: str, payload: AlertPayload) -> None: ...


class Dispatcher:
    def __init__(
        self,
        hub: ChangeSink,
        notifiers: Mapping[str, Notifier],
        dashboards: frozenset[str],
        ledger: DeliveryLedger | None = None,
    ) -> None:
        self.hub = hub
        self.notifiers = dict(notifiers)
        self.dashboards = dashboards
        self.ledger = ledger
        self.unknown_channels: set[str] = set()
        self._retiring: dict[asyncio.Task[None], Notifier] = {}

    @property
    def retiring(self) -> int:
        """Replaced notifiers still finishing their deliveries."""
        return len(self._retiring)

    @property
    def in_flight(self) -> int:
        """Deliveries handed to a notifier (current or retiring) and not finished."""
        return sum(n.in_flight for n in [*self.notifiers.values(), *self._retiring.values()])

    def push_channels(self, channel_ids: Iterable[str]) -> list[str]:
        """The push channels among `channel_ids` (dashboards excluded); unknown ones are warned of once."""
        found: list[str] = []
        for channel_id in channel_ids:
            if channel_id in self.dashboards:
                continue
            if channel_id in self.notifiers:
                found.append(channel_id)
            else:
                self._warn_unknown(channel_id)
        return found

    async def dispatch(self, action: str, payload: AlertPayload, deliveries: Sequence[Delivery]) -> None:
        """After the commit: the change to the hub, each delivery to its channel's notifier."""
        self.hub.publish(action, payload)
        for delivery in deliveries:
            notifier = self.notifiers.get(delivery.channel_id)
            if notifier is not None:
                await notifier.deliver(delivery)

    async def resume(self, now: datetime) -> int:
        """At start: hand the outbox's pending deliveries to their channels; those of a channel no
        longer configured are dead (kept in `alert_dead_deliveries`)."""
        if self.ledger is None:
            return 0
        pending = await self.ledger.pending()
        for delivery in pending:
            notifier = self.notifiers.get(delivery.channel_id)
            if notifier is not None:
                await notifier.deliver(delivery)
                continue
            error = f"channel {delivery.channel_id} is no longer configured"
            await self.ledger.dead(DeadDelivery.of(delivery, delivery.attempts, error, now))
        if pending:
            channels = sorted({delivery.channel_id for delivery in pending})
            logger.info("resuming %s pending alert deliveries (%s)", len(pending), ", ".join(channels))
        return len(pending)

    def _warn_unknown(self, channel_id: str) -> None:
        if channel_id not in self.unknown_channels and len(self.unknown_channels) < MAX_UNKNOWN_CHANNELS:
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
        self.received: list[Delivery] = []
        self.dropped = 0

    @property
    def in_flight(self) -> int:
        return 0

    async def start(self) -> None:
        return None

    async def deliver(self, delivery: Delivery) -> None:
        if len(self.received) >= self.limit:
            self.dropped += 1
            return
        self.received.append(delivery)

    async def retire(self) -> None:
        return None

    async def close(self) -> None:
        return None
