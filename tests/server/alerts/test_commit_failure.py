"""A failed save loses no transition (real PostgreSQL; a real constraint refusing the write, or
the connection cut with a TCP proxy): the step is kept, retried by the next tick, and then saved
with its outbox row and delivered; the failure is counted and logged once, with its recovery."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from server.alerts.core import RuleEngine
from server.alerts.engine import AlertEngine, AlertsUnavailableError
from server.alerts.pg_repository import PgAlertRepository
from server.db.migrate import migrate
from server.notify.base import Dispatcher, MemoryNotifier
from server.notify.hub import AlertHub
from server.notify.outbox import PgOutbox
from server.store.records import StoredReading
from tests.fixtures.tcp_proxy import TcpProxy
from tests.server.alerts.configs import SALINITY_4, at, make_config, rule
from tests.server.helpers import count_rows, wait_until

QUICK = rule(SALINITY_4, **{"raise": {"above": 4.0}, "clear": {"below": 3.5}}, channels=["dashboard", "hook"])
ESCALATING = rule(QUICK, channels=["dashboard"], escalate_after="30m", escalate_to=["hook"], repeat_interval="6h")
REFUSE = "ALTER TABLE alert_history ADD CONSTRAINT refused_by_test CHECK (false) NOT VALID"
ACCEPT = "ALTER TABLE alert_history DROP CONSTRAINT refused_by_test"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Rig:
    def __init__(self, database_url: str, engine: AlertEngine, hook: MemoryNotifier, clock: Clock) -> None:
        self.database_url, self.engine, self.hook, self.clock = database_url, engine, hook, clock

    async def sql(self, statement: str) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            await conn.execute(statement.encode())

    async def rows(self, query: str) -> int:
        return await count_rows(self.database_url, query)


async def rig_for(pg_database: str, tree: dict[str, object]) -> AsyncIterator[Rig]:
    await migrate(pg_database)
    pool = AsyncConnectionPool(pg_database, min_size=1, max_size=2, open=False)
    await pool.open(wait=True, timeout=10)
    hook, clock = MemoryNotifier("hook"), Clock(at(0))
    dispatcher = Dispatcher(AlertHub(), {"hook": hook}, frozenset({"dashboard"}), PgOutbox(pool))
    engine = AlertEngine(RuleEngine(make_config([tree])), PgAlertRepository(pool), dispatcher, clock, 3600)
    await engine.open()
    try:
        yield Rig(pg_database, engine, hook, clock)
    finally:
        await engine.close()
        await pool.close()


@pytest.fixture
async def quick(pg_database: str) -> AsyncIterator[Rig]:
    async for found in rig_for(pg_database, QUICK):
        yield found


@pytest.fixture
async def escalating(pg_database: str) -> AsyncIterator[Rig]:
    async for found in rig_for(pg_database, ESCALATING):
        yield found


def failure_logs(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    messages = [record.getMessage() for record in caplog.records if record.name == "server.alerts.unsaved"]
    failed = sum("failed" in m and "kept in memory" in m for m in messages)
    return failed, sum("saved again after" in m for m in messages)


async def test_a_firing_alert_whose_save_fails_is_saved_and_delivered_by_the_next_tick(
    quick: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await quick.sql(REFUSE)
    await quick.engine.on_readings([StoredReading("sal-a", at(0), 5.0, at(0))])
    assert [a.state for a in quick.engine.core.book.open_alerts()] == ["firing"]  # the book moved on
    assert quick.hook.received == [] and await quick.rows("SELECT count(*) FROM alerts") == 0
    await quick.engine.tick()
    await quick.engine.tick()
    assert quick.engine.failures == 3 and len(quick.engine.unsaved) == 1

    await quick.sql(ACCEPT)
    await quick.engine.tick()
    assert await quick.rows("SELECT count(*) FROM alerts WHERE state = 'firing'") == 1
    assert await quick.rows("SELECT count(*) FROM alert_history WHERE action = 'firing'") == 1
    assert await quick.rows("SELECT count(*) FROM alert_outbox WHERE channel_id = 'hook' AND action = 'firing'") == 1
    assert await quick.rows("SELECT count(*) FROM alert_rule_state WHERE phase = 'firing'") == 1
    assert [d.action for d in quick.hook.received] == ["firing"]
    assert failure_logs(caplog) == (1, 1)


async def test_an_escalation_whose_save_fails_is_not_lost(escalating: Rig) -> None:
    await escalating.engine.on_readings([StoredReading("sal-a", at(0), 5.0, at(0))])
    assert await escalating.rows("SELECT count(*) FROM alerts WHERE state = 'firing'") == 1
    await escalating.sql(REFUSE)
    escalating.clock.now = at(31)
    await escalating.engine.tick()  # escalates in memory (`escalated_at` set); the save is refused
    assert escalating.hook.received == [] and escalating.engine.failures == 1

    await escalating.sql(ACCEPT)
    escalating.clock.now = at(32)
    await escalating.engine.tick()
    assert await escalating.rows("SELECT count(*) FROM alert_history WHERE action = 'escalated'") == 1
    assert await escalating.rows("SELECT count(*) FROM alerts WHERE escalated_at IS NOT NULL") == 1
    assert [d.action for d in escalating.hook.received] == ["escalated"]


async def test_an_operator_action_whose_save_fails_is_refused_but_kept_and_saved_later(quick: Rig) -> None:
    await quick.engine.on_readings([StoredReading("sal-a", at(0), 5.0, at(0))])
    alert_id = next(quick.engine.core.book.open_alerts()).id
    await quick.sql(REFUSE)
    with pytest.raises(AlertsUnavailableError, match=r"database is unavailable: alert .* \(acknowledged\) is kept"):
        await quick.engine.acknowledge(alert_id, "Minh", "on my way")
    await quick.sql(ACCEPT)
    await quick.engine.tick()
    assert await quick.rows("SELECT count(*) FROM alerts WHERE state = 'acknowledged'") == 1


async def test_a_firing_alert_saved_while_the_database_connection_is_cut_is_saved_once_it_is_back(
    pg_database: str,
) -> None:
    await migrate(pg_database)
    proxy = TcpProxy.for_url(pg_database)
    proxy.start()
    pool = AsyncConnectionPool(
        proxy.url_through(pg_database),
        min_size=1,
        max_size=2,
        timeout=1.0,
        open=False,
        check=AsyncConnectionPool.check_connection,
        kwargs={"connect_timeout": 1},
    )
    await pool.open(wait=True, timeout=10)
    hook = MemoryNotifier("hook")
    dispatcher = Dispatcher(AlertHub(), {"hook": hook}, frozenset({"dashboard"}), PgOutbox(pool))
    engine = AlertEngine(RuleEngine(make_config([QUICK])), PgAlertRepository(pool), dispatcher, Clock(at(0)), 3600)
    await engine.open()
    try:
        proxy.stop()  # every connection cut, new ones refused
        await engine.on_readings([StoredReading("sal-a", at(0), 5.0, at(0))])
        assert engine.failures == 1 and hook.received == []
        proxy.start()  # the same port again
        await wait_until(lambda: _saved(engine), timeout=20, what="the kept step to be saved")
        assert await count_rows(pg_database, "SELECT count(*) FROM alerts WHERE state = 'firing'") == 1
        assert await count_rows(pg_database, "SELECT count(*) FROM alert_outbox WHERE action = 'firing'") == 1
        assert [d.action for d in hook.received] == ["firing"]
    finally:
        await engine.close()
        await pool.close()
        proxy.stop()


async def _saved(engine: AlertEngine) -> bool:
    await engine.tick()
    return len(engine.unsaved) == 0
