"""The async incident service: the desk (pure) + the repository + delivery, one lock.

Each step: mutate the desk -> one transaction (incident rows, links, ticks, timeline entries, the
outbox rows of escalation notices) -> the dashboard stream and the push notifiers. A save that
fails keeps the step (bounded, drops counted) and raises `IncidentsUnavailableError` to an
operator; the ticker retries it every second with the escalation check.

It consumes alert changes through the alert engine's public feed (`feed()`: a snapshot of open
alerts, then every change), draining what waits so a burst is saved in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from contract.payloads import AlertPayload
from server.incidents.change_notify import incident_message
from server.incidents.core import IncidentDesk
from server.incidents.model import Incident, IncidentChange, TimelineEntry
from server.incidents.notices import deliveries_of
from server.incidents.pg_repository import IncidentQuery, PgIncidentRepository
from server.notify.base import Notifier
from server.notify.hub import Message, Subscription
from server.notify.outbox import Delivery

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_UNSAVED = 10_000
MAX_DRAIN = 500
RESOLVED_KEPT = timedelta(days=1)


class IncidentsUnavailableError(RuntimeError):
    """The change could not be saved now; it is kept and saved when the database is back."""


class Broadcaster(Protocol):
    def broadcast(self, message: Message) -> None: ...


class IncidentService:
    def __init__(
        self,
        desk: IncidentDesk,
        repository: PgIncidentRepository,
        clock: Clock,
        stream: Broadcaster,
        notifiers: Callable[[], Mapping[str, Notifier]],
        tick_interval_s: float = 1.0,
    ) -> None:
        self.desk = desk
        self.repository = repository
        self.clock = clock
        self.stream = stream
        self.notifiers = notifiers
        self.tick_interval_s = tick_interval_s
        self.lock = asyncio.Lock()
        self._unsaved: list[tuple[IncidentChange, list[Delivery]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.failures = 0
        self.dropped = 0
        self.notices = 0
        self._failing = False

    async def open(
        self,
        feed: Callable[[], Subscription] | None = None,
        lookup: Callable[[str], Awaitable[AlertPayload | None]] | None = None,
    ) -> None:
        """Restore the active incidents; with `lookup` (the alert engine's query), follow what their
        alerts did while this service was down (an alert resolved meanwhile is not in the feed's
        snapshot of open alerts)."""
        self.desk.load(await self.repository.restore(), await self.repository.settled())
        if lookup is not None:
            await self._catch_up(lookup)
        self._tasks.append(asyncio.create_task(self._tick_forever(), name="incident-ticker"))
        if feed is not None:
            self._tasks.append(asyncio.create_task(self._follow_alerts(feed), name="incident-alert-feed"))
        logger.info("incidents started: %s active restored", len(self.desk.incidents))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # ----------------------------------------------------------------- alert changes

    async def on_alerts(self, changes: Iterable[tuple[str, AlertPayload]]) -> None:
        async with self.lock:
            now = self.clock()
            found = [self.desk.on_alert(payload, action, now) for action, payload in changes]
            await self._commit([change for change in found if change is not None])

    async def _follow_alerts(self, feed: Callable[[], Subscription]) -> None:
        """Follow the feed for ever: a cut-off resubscribes (a fresh snapshot); a refused
        subscription or a failing batch is logged once per run of failures, counted, and retried."""
        failing = 0
        while True:
            try:
                await self._follow(feed())
            except Exception as exc:
                self.failures += 1
                failing += 1
                if failing == 1:
                    logger.warning("incidents: following the alert feed failed (%s); retrying every second", exc)
                await asyncio.sleep(1.0)
                continue
            if failing:
                logger.info("incidents follow the alert feed again after %s failures", failing)
                failing = 0
            logger.warning("incidents: the alert feed cut us off; resubscribing (a fresh snapshot)")
            await asyncio.sleep(0.1)

    async def _follow(self, subscription: Subscription) -> None:
        while (message := await subscription.next()) is not None:
            batch = [message, *_drain(subscription)]
            await self.on_alerts(pair for m in batch for pair in _alert_changes(m))

    async def _catch_up(self, lookup: Callable[[str], Awaitable[AlertPayload | None]]) -> None:
        linked = [a.alert_id for i in self.desk.incidents.values() for a in i.alerts.values() if a.state != "resolved"]
        found = [payload for alert_id in linked if (payload := await lookup(alert_id)) is not None]
        await self.on_alerts((payload.state, payload) for payload in found)

    # ----------------------------------------------------------------- operator actions

    async def act(
        self, action: Callable[[IncidentDesk, datetime], IncidentChange], on: Incident | None = None
    ) -> Incident:
        """Run a desk action under the lock and save it; IncidentError passes through. `on`: the
        incident acted on as read, loaded into the desk again if it was evicted (resolved long ago)."""
        async with self.lock:
            if on is not None and on.state != "closed" and on.id not in self.desk.incidents:
                self.desk.load([on])
            change = action(self.desk, self.clock())
            if not await self._commit([change]):
                raise IncidentsUnavailableError(
                    f"the database is unavailable: incident {change.incident.id} is kept and saved when it is back"
                )
            return change.incident

    # ----------------------------------------------------------------- query

    async def incidents(self, query: IncidentQuery) -> list[Incident]:
        return await self.repository.incidents(query)

    async def incident(self, incident_id: str) -> Incident | None:
        """An active (or resolved) incident from memory, the desk being its truth (so acting on it
        works while the database is away); a closed one from the database."""
        return self.desk.incidents.get(incident_id) or await self.repository.incident(incident_id)

    async def timeline(self, incident_id: str) -> list[TimelineEntry]:
        return await self.repository.timeline(incident_id)

    async def top_subjects(
        self, sites: frozenset[str] | None, start: datetime, end: datetime, limit: int = 10
    ) -> list[tuple[str, int]]:
        return await self.repository.top_subjects(sites, start, end, limit)

    # ----------------------------------------------------------------- ticks

    async def tick(self) -> None:
        async with self.lock:
            now = self.clock()
            await self._commit(self.desk.due_notices(now))
            self.desk.evict_resolved(now - RESOLVED_KEPT)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval_s)
            try:
                await self.tick()
            except Exception:
                self.failures += 1
                logger.exception("incident tick failed; retried every %ss", self.tick_interval_s)

    # ----------------------------------------------------------------- saving

    async def _commit(self, changes: list[IncidentChange]) -> bool:
        push = self.notifiers()
        for change in changes:
            deliveries = [d for n in change.notices for d in deliveries_of(change.incident, n, push, self.clock())]
            self._keep(change, deliveries)
        if not self._unsaved:
            return True
        waiting = list(self._unsaved)
        try:
            await self.repository.save([c for c, _ in waiting], [d for _, ds in waiting for d in ds])
        except Exception as exc:
            self._failed(exc)
            return False
        del self._unsaved[: len(waiting)]
        if self._failing:
            self._failing = False
            logger.info("incident changes are saved again (%s waited)", len(waiting))
        await self._dispatch(waiting, push)
        return True

    def _keep(self, change: IncidentChange, deliveries: list[Delivery]) -> None:
        if len(self._unsaved) >= MAX_UNSAVED:
            self._unsaved.pop(0)
            self.dropped += 1
        self._unsaved.append((change, deliveries))

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if not self._failing:
            self._failing = True
            logger.warning("incident changes not saved (%s); kept and retried every tick", exc)

    async def _dispatch(self, steps: list[tuple[IncidentChange, list[Delivery]]], push: Mapping[str, Notifier]) -> None:
        for change, deliveries in steps:
            self.stream.broadcast(incident_message(change))
            for delivery in deliveries:
                self.notices += 1
                await push[delivery.channel_id].deliver(delivery)


def _drain(subscription: Subscription) -> list[Message]:
    found: list[Message] = []
    while len(found) < MAX_DRAIN and not subscription.queue.empty():
        message = subscription.queue.get_nowait()
        if message is None:
            break
        found.append(message)
    return found


def _alert_changes(message: Message) -> list[tuple[str, AlertPayload]]:
    kind: Any = message.get("type")
    if kind == "alert":
        return [(str(message["action"]), AlertPayload.model_validate(message["alert"]))]
    if kind == "snapshot":
        return [(str(a["state"]), AlertPayload.model_validate(a)) for a in message["alerts"]]
    return []
