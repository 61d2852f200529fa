"""What the alerts API asks of the replica it reached: `AlertOperations`.

On the leader (or a single server) the engine answers (`EngineOperations`); on a follower,
`FollowerAlerts` (`follower.py`) reads from the database and sends operator actions to the
leader through the command table. Errors are the engine's own in both cases
(`AlertNotFoundError`, `AlertClosedError`, `AlertsUnavailableError`, `TooManySilencesError`).
"""

from __future__ import annotations

from typing import Protocol

from contract.config.root import StreamsConfig
from contract.payloads import AlertPayload
from server.alerts.engine import AlertEngine
from server.alerts.matching import SilenceRecord
from server.alerts.model import Alert, HistoryEntry
from server.alerts.repository import AlertQuery
from server.notify.hub import AlertHub, Subscription


class AlertOperations(Protocol):
    @property
    def config(self) -> StreamsConfig: ...

    async def alerts(self, query: AlertQuery) -> list[Alert]: ...

    async def alert(self, alert_id: str) -> Alert | None: ...

    async def history(self, alert_id: str) -> list[HistoryEntry]: ...

    async def silences(self) -> list[SilenceRecord]: ...

    async def acknowledge(self, alert_id: str, by: str, note: str | None) -> AlertPayload: ...

    async def assign(self, alert_id: str, assignee: str, by: str) -> AlertPayload: ...

    async def resolve(self, alert_id: str, by: str, note: str | None) -> AlertPayload: ...

    async def add_silence(self, silence: SilenceRecord) -> None: ...

    async def expire_silence(self, silence_id: str) -> SilenceRecord | None: ...

    def subscribe(self) -> Subscription:
        """The dashboard feed: open alerts, then every change (ConnectionRefusedError when full)."""
        ...

    def unsubscribe(self, subscription: Subscription) -> None: ...


class EngineOperations:
    """The engine itself answers; the dashboard feed is `feed` when given (shared replicas: the
    database-fed hub, the same on every replica), else the engine's own hub."""

    def __init__(self, engine: AlertEngine, feed: AlertHub | None = None) -> None:
        self.engine = engine
        self.feed = feed or engine.hub

    @property
    def config(self) -> StreamsConfig:
        return self.engine.config

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        return await self.engine.alerts(query)

    async def alert(self, alert_id: str) -> Alert | None:
        return await self.engine.alert(alert_id)

    async def history(self, alert_id: str) -> list[HistoryEntry]:
        return await self.engine.history(alert_id)

    async def silences(self) -> list[SilenceRecord]:
        return self.engine.silences()

    async def acknowledge(self, alert_id: str, by: str, note: str | None) -> AlertPayload:
        return (await self.engine.acknowledge(alert_id, by, note)).payload

    async def assign(self, alert_id: str, assignee: str, by: str) -> AlertPayload:
        return (await self.engine.assign(alert_id, assignee, by)).payload

    async def resolve(self, alert_id: str, by: str, note: str | None) -> AlertPayload:
        return (await self.engine.resolve(alert_id, by, note)).payload

    async def add_silence(self, silence: SilenceRecord) -> None:
        await self.engine.add_silence(silence)

    async def expire_silence(self, silence_id: str) -> SilenceRecord | None:
        return await self.engine.expire_silence(silence_id)

    def subscribe(self) -> Subscription:
        return self.feed.subscribe()

    def unsubscribe(self, subscription: Subscription) -> None:
        self.feed.unsubscribe(subscription)
