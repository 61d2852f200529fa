"""Where an MQTT channel keeps the resolved alerts whose retained message it must still clear
(`alert_retained_resolved`, migration 0102): the notifier's own small store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True, slots=True)
class RetainedResolved:
    """A resolved alert's state, retained on `topic` since `published_at` (server time)."""

    channel_id: str
    alert_id: str
    topic: str
    published_at: datetime


class RetainedStore(Protocol):
    async def retained_resolved(self, channel_id: str) -> list[RetainedResolved]: ...

    async def save_retained_resolved(self, entry: RetainedResolved) -> None: ...

    async def forget_retained_resolved(self, channel_id: str, alert_ids: Sequence[str]) -> None: ...


SELECT_RETAINED = """
SELECT channel_id, alert_id::text AS alert_id, topic, published_at FROM alert_retained_resolved WHERE channel_id = %s
"""
UPSERT_RETAINED = """
INSERT INTO alert_retained_resolved (channel_id, alert_id, topic, published_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (channel_id, alert_id) DO UPDATE SET topic = EXCLUDED.topic, published_at = EXCLUDED.published_at
"""
DELETE_RETAINED = "DELETE FROM alert_retained_resolved WHERE channel_id = %s AND alert_id = ANY(%s::uuid[])"


class PgRetainedStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def retained_resolved(self, channel_id: str) -> list[RetainedResolved]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SELECT_RETAINED, (channel_id,))
            return [RetainedResolved(**row) for row in await cur.fetchall()]

    async def save_retained_resolved(self, entry: RetainedResolved) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(UPSERT_RETAINED, (entry.channel_id, entry.alert_id, entry.topic, entry.published_at))

    async def forget_retained_resolved(self, channel_id: str, alert_ids: Sequence[str]) -> None:
        if not alert_ids:
            return
        async with self._pool.connection() as conn:
            await conn.execute(DELETE_RETAINED, (channel_id, list(alert_ids)))


class MemoryRetainedStore:
    def __init__(self) -> None:
        self._retained: dict[tuple[str, str], RetainedResolved] = {}

    async def retained_resolved(self, channel_id: str) -> list[RetainedResolved]:
        return [entry for (channel, _), entry in self._retained.items() if channel == channel_id]

    async def save_retained_resolved(self, entry: RetainedResolved) -> None:
        self._retained[(entry.channel_id, entry.alert_id)] = entry

    async def forget_retained_resolved(self, channel_id: str, alert_ids: Sequence[str]) -> None:
        for alert_id in alert_ids:
            self._retained.pop((channel_id, alert_id), None)
