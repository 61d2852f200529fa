"""Leadership among replicas on one real PostgreSQL: one advisory lock, one leader; a closed lock
connection (what a crash or a network cut does) or a stop hands it to a follower within about
`retry_s`; listeners hear every gain and loss; a replica that lost the lock can no longer save
an alert-engine step (fencing token)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from psycopg_pool import AsyncConnectionPool

from server.alerts.pg_repository import PgAlertRepository
from server.alerts.repository import Commit, EvaluationCursor
from server.db.migrate import migrate
from server.leadership import FencedError, PgLeadership, SoleLeadership
from tests.server.helpers import count_rows, wait_until

RETRY_S = 0.3


def recorded(leadership: PgLeadership | SoleLeadership) -> list[bool]:
    changes: list[bool] = []

    async def listener(leader: bool) -> None:
        changes.append(leader)

    leadership.on_change(listener)
    return changes


async def _is(leadership: PgLeadership, leader: bool) -> bool:
    return leadership.is_leader is leader


async def test_one_of_two_replicas_leads_and_a_closed_lock_connection_hands_over(pg_database: str) -> None:
    await migrate(pg_database)
    first, second = PgLeadership(pg_database, RETRY_S), PgLeadership(pg_database, RETRY_S)
    first_changes, second_changes = recorded(first), recorded(second)
    await first.start()
    await second.start()
    try:
        assert (first.role, second.role) == ("leader", "follower")
        await asyncio.sleep(RETRY_S * 3)  # a follower's tries do not take the lock
        assert (first.is_leader, second.is_leader) == (True, False)

        cut = time.monotonic()
        await first.drop_connection()
        await wait_until(lambda: _is(second, True), timeout=5, what="the follower taking over")
        takeover = time.monotonic() - cut
        await wait_until(lambda: _is(first, False), timeout=5, what="the old leader hearing its loss")
        assert takeover < RETRY_S * 4
        await asyncio.sleep(RETRY_S * 3)  # the old leader reconnects as a follower
        assert (first.role, second.role) == ("follower", "leader")
        assert first_changes == [True, False] and second_changes == [True]
    finally:
        await second.stop()
        await first.stop()
    assert second_changes == [True, False]


async def test_a_leader_that_stops_releases_the_lock_at_once(pg_database: str) -> None:
    await migrate(pg_database)
    first, second = PgLeadership(pg_database, RETRY_S), PgLeadership(pg_database, RETRY_S)
    await first.start()
    await second.start()
    try:
        await first.stop()
        assert not first.is_leader
        await wait_until(lambda: _is(second, True), timeout=RETRY_S * 3, what="the follower's next try winning")
    finally:
        await second.stop()


async def test_a_leader_whose_database_is_unreachable_is_a_follower() -> None:
    leadership = PgLeadership("postgresql://postgres@127.0.0.1:1/none", RETRY_S, timeout_s=1.0)
    await leadership.start()
    try:
        assert leadership.role == "follower"
    finally:
        await leadership.stop()


async def test_a_sole_replica_leads_from_start_to_stop() -> None:
    sole = SoleLeadership()
    changes = recorded(sole)
    assert sole.role == "follower"
    await sole.start()
    assert sole.is_leader and sole.role == "leader"
    await sole.stop()
    assert changes == [True, False]


async def test_a_replica_that_lost_the_lock_can_no_longer_save_a_step(pg_database: str) -> None:
    await migrate(pg_database)
    first, second = PgLeadership(pg_database, RETRY_S), PgLeadership(pg_database, RETRY_S)
    await first.start()
    await second.start()
    async with AsyncConnectionPool(pg_database, min_size=1, max_size=2, open=False) as pool:
        old = PgAlertRepository(pool, fence=lambda: first.fencing_token)
        now = datetime.now(UTC)
        await old.save(Commit(cursor=EvaluationCursor(now, now)))  # the leader saves
        try:
            await first.drop_connection()  # its pool still reaches the database
            await wait_until(lambda: _is(second, True), timeout=5, what="the follower taking over")
            assert second.fencing_token == (first.fencing_token or 0) + 1
            with pytest.raises(FencedError, match=r"no longer the leader \(its epoch \d+, the current one \d+\)"):
                await old.save(Commit(cursor=EvaluationCursor(datetime.now(UTC), datetime.now(UTC))))
            assert (
                await count_rows(
                    pg_database, "SELECT count(*) FROM alert_eval_cursor WHERE readings_received_at = %s", now
                )
                == 1
            )
            new = PgAlertRepository(pool, fence=lambda: second.fencing_token)
            await new.save(Commit(cursor=EvaluationCursor(datetime.now(UTC), datetime.now(UTC))))
        finally:
            await second.stop()
            await first.stop()
