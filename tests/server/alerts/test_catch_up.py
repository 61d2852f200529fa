"""Detection events stored but never evaluated (the process died between the ingest's commit and
the engine's step) are evaluated at the next start, once (real PostgreSQL, the real store)."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool

from contract.timeutil import utc_now
from server.alerts.core import RuleEngine
from server.alerts.engine import AlertEngine
from server.alerts.pg_repository import PgAlertRepository
from server.db.migrate import migrate
from server.db.timescale import detect_features
from server.notify.base import Dispatcher
from server.notify.hub import AlertHub
from server.store.base import WriteBatch
from server.store.pg import PgStore
from server.store.records import StoredEvent
from tests.server.alerts.configs import make_config
from tests.server.helpers import count_rows

IN_ZONE = {"id": "intrusion", "type": "object_in_zone", "camera": "gate", "zone": "entrance", "for": "1m"}


def engine_on(pool: AsyncConnectionPool, store: PgStore) -> AlertEngine:
    dispatcher = Dispatcher(AlertHub(), {}, frozenset({"dashboard"}))
    return AlertEngine(RuleEngine(make_config([IN_ZONE])), PgAlertRepository(pool), dispatcher, utc_now, 3600, store)


async def test_events_stored_after_the_cursor_are_evaluated_at_the_next_start_once(database_url: str) -> None:
    """On plain PostgreSQL, then on TimescaleDB (hypertables, BRIN indexes on received_at)."""
    await migrate(database_url)
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False) as pool:
        async with pool.connection() as conn:
            store = PgStore(pool, await detect_features(conn))
        first = engine_on(pool, store)
        await first.open()  # the first start: the cursor starts now
        await first.close()
        now = datetime.now(UTC)
        entered = StoredEvent("ev-1", "gate", now, "zone_enter", now, zone="entrance", track_id=7, label="person")
        await store.write(WriteBatch(events=[entered]))  # committed, never handed to the engine

        for _ in range(2):  # the second start finds nothing new after the saved cursor
            engine = engine_on(pool, store)
            await engine.open()
            await engine.close()
        assert await count_rows(database_url, "SELECT count(*) FROM alerts WHERE state = 'pending'") == 1
        assert await count_rows(database_url, "SELECT count(*) FROM alert_history") == 1
        cursor = "SELECT count(*) FROM alert_eval_cursor WHERE events_received_at = %s"
        assert await count_rows(database_url, cursor, now) == 1
