"""At start: evaluate what was stored after the engine's cursor (a crash between the ingest's
commit and the engine's step, or an ingest that acks before its observers run, leaves such rows).

No cursor yet (the first start on a database): it starts now, nothing older is evaluated.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from server.alerts.repository import EvaluationCursor
from server.store.records import StoredEvent, StoredReading

if TYPE_CHECKING:
    from server.alerts.engine import AlertEngine

logger = logging.getLogger(__name__)

PAGE = 5000


class StoredSince(Protocol):
    """The store's "received after" queries (`server.store.pg_queries`)."""

    async def readings_received_after(
        self, since: datetime, after: tuple[datetime, str, datetime] | None, limit: int
    ) -> list[StoredReading]: ...

    async def events_received_after(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[StoredEvent]: ...


async def catch_up(engine: AlertEngine, stored: StoredSince, cursor: EvaluationCursor | None) -> None:
    now = engine.clock()
    if cursor is None:
        engine.cursor = EvaluationCursor(now, now)
        await engine.tick_cursor()
        logger.info("alert engine: evaluation cursor starts at %s", now.isoformat())
        return
    readings = await _replay_readings(engine, stored, cursor.readings or now)
    events = await _replay_events(engine, stored, cursor.events or now)
    await engine.tick_cursor()
    if readings or events:
        logger.warning(
            "alert engine: %s readings and %s events stored after its cursor (%s) were never evaluated; evaluated now",
            readings,
            events,
            cursor.readings.isoformat() if cursor.readings else "-",
        )


async def _replay_readings(engine: AlertEngine, stored: StoredSince, since: datetime) -> int:
    count, after = 0, None
    while page := await stored.readings_received_after(since, after, PAGE):
        await engine.on_readings(page)
        last = page[-1]
        after, count = (last.received_at, last.sensor_id, last.time), count + len(page)
    return count


async def _replay_events(engine: AlertEngine, stored: StoredSince, since: datetime) -> int:
    count, after = 0, None
    while page := await stored.events_received_after(since, after, PAGE):
        await engine.on_events(page)
        last = page[-1]
        after, count = (last.received_at, last.id), count + len(page)
    return count
