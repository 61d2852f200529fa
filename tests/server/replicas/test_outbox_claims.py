"""Outbox claims on real PostgreSQL: two dispatchers never get one row; a row stays with its
claimant while the lease is renewed, goes to another once it runs out or is released."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool

from contract.payloads import AlertPayload
from server.db.migrate import migrate
from server.notify.outbox import Delivery, OutboxClaim, PgOutbox, add_deliveries


def delivery(number: int) -> Delivery:
    now = datetime.now(UTC)
    payload = AlertPayload(
        id=str(uuid.uuid4()), fingerprint=f"f{number}", rule_id="r", state="firing", severity="critical",
        subject="sal-1", summary="high", started_at=now, updated_at=now,
    )  # fmt: skip
    return Delivery(str(uuid.uuid4()), "hook", "firing", payload)


async def insert(pool: AsyncConnectionPool, deliveries: list[Delivery], claim: OutboxClaim | None = None) -> None:
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await add_deliveries(cur, deliveries, claim)


async def test_two_dispatchers_claiming_at_once_get_disjoint_rows(pg_database: str) -> None:
    await migrate(pg_database)
    async with AsyncConnectionPool(pg_database, min_size=2, max_size=4, open=False) as pool:
        rows = [delivery(n) for n in range(400)]
        await insert(pool, rows)  # unclaimed: what a released or pre-0900 row looks like
        first, second = PgOutbox(pool, OutboxClaim("a")), PgOutbox(pool, OutboxClaim("b"))
        claimed = await asyncio.gather(first.pending(), second.pending(), first.pending(), second.pending())
        ids = [d.delivery_id for batch in claimed for d in batch]
        assert sorted(ids) == sorted(d.delivery_id for d in rows)  # every row once, none twice
        assert [d.delivery_id for d in claimed[0]] == [d.delivery_id for d in rows if d in claimed[0]]  # in order


async def test_a_claimed_row_waits_for_its_lease_or_its_release(pg_database: str) -> None:
    await migrate(pg_database)
    async with AsyncConnectionPool(pg_database, min_size=1, max_size=2, open=False) as pool:
        holder = PgOutbox(pool, OutboxClaim("holder", lease_s=0.6))
        other = PgOutbox(pool, OutboxClaim("other"))
        await insert(pool, [delivery(1)], holder.claim)  # as the engine's transaction writes it
        assert await other.pending() == []
        for _ in range(3):  # renewed: kept past its first lease
            await asyncio.sleep(0.3)
            assert await holder.renew() == 1
            assert await other.pending() == []
        await asyncio.sleep(0.8)  # not renewed (the holder died): the lease runs out
        assert len(await other.pending()) == 1
        assert await holder.renew() == 0 and await other.renew() == 1

        await insert(pool, [delivery(2)], holder.claim)
        assert await holder.release() == 1
        taken = await other.pending()
        assert [d.payload.fingerprint for d in taken] == ["f2"]
