"""Shared replicas: the alerts API on a follower. Reads (lists, history, silences) come from the
database; operator actions go to the leader as commands (`commands.py`) and answer with its
result; the dashboard feed is the database-fed hub (`feed.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from contract.config.root import StreamsConfig
from contract.payloads import AlertPayload
from server.alerts.commands import CommandClient, silence_args, silence_of
from server.alerts.matching import SilenceRecord
from server.alerts.model import Alert, HistoryEntry
from server.alerts.pg_repository import PgAlertRepository
from server.alerts.repository import AlertQuery
from server.notify.hub import AlertHub, Subscription

ACTIVE_SILENCES = "SELECT * FROM alert_silences WHERE ends_at > now() ORDER BY created_at"


class FollowerAlerts:
    def __init__(
        self, pool: AsyncConnectionPool, commands: CommandClient, feed: AlertHub, config: Callable[[], StreamsConfig]
    ) -> None:
        self._pool = pool
        self._repository = PgAlertRepository(pool)
        self._commands = commands
        self._feed = feed
        self._config = config

    @property
    def config(self) -> StreamsConfig:
        return self._config()

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        return await self._repository.alerts(query)

    async def alert(self, alert_id: str) -> Alert | None:
        return await self._repository.alert(alert_id)

    async def history(self, alert_id: str) -> list[HistoryEntry]:
        return await self._repository.history(alert_id)

    async def silences(self) -> list[SilenceRecord]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(ACTIVE_SILENCES)
            return [SilenceRecord(**row) for row in await cur.fetchall()]

    async def acknowledge(self, alert_id: str, by: str, note: str | None) -> AlertPayload:
        return await self._alert_command("acknowledge", {"alert_id": alert_id, "by": by, "note": note})

    async def assign(self, alert_id: str, assignee: str, by: str) -> AlertPayload:
        return await self._alert_command("assign", {"alert_id": alert_id, "assignee": assignee, "by": by})

    async def resolve(self, alert_id: str, by: str, note: str | None) -> AlertPayload:
        return await self._alert_command("resolve", {"alert_id": alert_id, "by": by, "note": note})

    async def add_silence(self, silence: SilenceRecord) -> None:
        await self._commands.submit("add_silence", silence_args(silence))

    async def expire_silence(self, silence_id: str) -> SilenceRecord | None:
        result = await self._commands.submit("expire_silence", {"silence_id": silence_id})
        expired = result.get("silence")
        return silence_of(expired) if expired is not None else None

    def subscribe(self) -> Subscription:
        return self._feed.subscribe()

    def unsubscribe(self, subscription: Subscription) -> None:
        self._feed.unsubscribe(subscription)

    async def _alert_command(self, command: str, args: dict[str, Any]) -> AlertPayload:
        result = await self._commands.submit(command, args)
        return AlertPayload.model_validate(result["alert"])
