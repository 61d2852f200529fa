"""The incident changes a shared-mode save announces (real PostgreSQL, a real LISTEN connection):
each committed change arrives once as the dashboard's incident message; one too large for a
notification arrives as its id, and the feed reads the incident back from the database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.db.migrate import migrate
from server.incidents.change_notify import INCIDENT_CHANNEL, MAX_NOTIFY_BYTES
from server.incidents.core import IncidentDesk
from server.incidents.feed import IncidentFeed
from server.incidents.model import TimelineEntry
from server.incidents.pg_repository import PgIncidentRepository
from server.notify.hub import Message
from tests.server.incidents.configs import alert, incident_config


class _Stream:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    def broadcast(self, message: Message) -> None:
        self.messages.append(message)


async def test_saved_changes_are_announced_and_a_large_one_is_read_back(pg_database: str) -> None:
    await migrate(pg_database)
    config = incident_config()
    now = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    desk = IncidentDesk(config)
    opened = desk.on_alert(alert(config.rules[0].id, "sal-1", now), "firing", now)
    assert opened is not None
    note = TimelineEntry(opened.incident.id, now, "comment", "op", "x" * (MAX_NOTIFY_BYTES + 100))
    large = dataclasses.replace(opened, entries=[note])
    async with (
        AsyncConnectionPool(pg_database, min_size=1, max_size=2) as pool,
        await psycopg.AsyncConnection.connect(pg_database, autocommit=True) as listener,
    ):
        await listener.execute(f"LISTEN {INCIDENT_CHANNEL}")
        await PgIncidentRepository(pool).save([opened], [])  # single mode: nothing announced
        await PgIncidentRepository(pool, announce=True).save([opened], [])
        await PgIncidentRepository(pool, announce=True).save([large], [])
        payloads = [n.payload async for n in listener.notifies(timeout=1.0, stop_after=3)]  # all that came
        stream = _Stream()
        feed = IncidentFeed(pool, stream)
        for payload in payloads:
            await feed.on_notification(payload)
    assert len(payloads) == 2, payloads
    full, read_back = stream.messages
    assert full["incident"]["id"] == opened.incident.id and [e["kind"] for e in full["entries"]][:1] == ["opened"]
    assert len(payloads[1]) < 200 and opened.incident.id in payloads[1]
    assert read_back == {"type": "incident", "incident": read_back["incident"], "entries": []}
    assert read_back["incident"]["id"] == opened.incident.id and read_back["incident"]["site"] == "long-phu"
    assert feed.published == 2
