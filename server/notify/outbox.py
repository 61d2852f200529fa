"""The alert outbox: what each push channel still has to deliver, and what became of it.

A `Delivery` row is written in the same transaction as the alert change it carries (the alert
repository calls `add_deliveries` with its cursor). The notifier then records every attempt
(`retry`), the success (`delivered`) or the end (`dead`: moved to `alert_dead_deliveries`). At
start the dispatcher hands `pending()` rows back to their channels, so a restart during a retry
backoff resumes the delivery where it stopped. Delivery is at least once: a receiver dedupes on
the delivery id (the webhook's `X-IOC-Delivery` header).

Several dispatchers (server replicas, or an old leader stepping down while the new one starts)
never deliver one row twice: a row belongs to the dispatcher that claimed it (`OutboxClaim`: who,
until when). The engine's transaction inserts its rows claimed by its own dispatcher; `pending()`
claims only rows whose lease ran out (or that were released), with `FOR UPDATE SKIP LOCKED`, so two
concurrent claims get disjoint rows. A running dispatcher renews its leases (`renew`); one that
stops releases its undelivered rows (`release`) for the next to take at once.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from contract.payloads import AlertPayload

MAX_MEMORY_ROWS = 10_000
DELIVERED_KEPT = "1 day"
CLAIM_LEASE_S = 30.0
CLAIM_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class OutboxClaim:
    """Who claims outbox rows (one per running dispatcher) and for how long a claim holds unrenewed."""

    claimant: str = field(default_factory=lambda: uuid.uuid4().hex)
    lease_s: float = CLAIM_LEASE_S

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_s)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert change for one push channel; `attempts` made so far, the next not before `next_attempt_at`."""

    delivery_id: str
    channel_id: str
    action: str
    payload: AlertPayload
    attempts: int = 0
    next_attempt_at: datetime | None = None

    @property
    def alert_id(self) -> str:
        return self.payload.id


@dataclass(frozen=True, slots=True)
class DeadDelivery:
    """A delivery that gave up (its channel's `max_attempts`, a refusal, or the channel removed)."""

    channel_id: str
    delivery_id: str
    alert_id: str
    action: str
    attempts: int
    error: str
    at: datetime
    payload: AlertPayload | None = None

    @classmethod
    def of(cls, delivery: Delivery, attempts: int, error: str, at: datetime) -> DeadDelivery:
        return cls(
            delivery.channel_id,
            delivery.delivery_id,
            delivery.alert_id,
            delivery.action,
            attempts,
            error,
            at,
            delivery.payload,
        )


class DeliveryLedger(Protocol):
    async def pending(self) -> list[Delivery]: ...

    async def retry(self, delivery: Delivery, attempts: int, next_attempt_at: datetime, error: str) -> None: ...

    async def delivered(self, delivery: Delivery, at: datetime) -> None: ...

    async def dead(self, dead: DeadDelivery) -> None: ...


INSERT_DELIVERY = """
INSERT INTO alert_outbox (delivery_id, channel_id, alert_id, action, payload, claimed_by, claimed_until)
VALUES (%s, %s, %s, %s, %s, %s, now() + %s)
"""
CLAIM_PENDING = """
UPDATE alert_outbox SET claimed_by = %(claimant)s, claimed_until = now() + %(lease)s
WHERE id IN (
    SELECT id FROM alert_outbox
    WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until < now())
    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING id, delivery_id::text AS delivery_id, channel_id, action, payload, attempts, next_attempt_at
"""
RENEW_CLAIMS = """
UPDATE alert_outbox SET claimed_until = now() + %s WHERE claimed_by = %s AND state = 'pending'
"""
RELEASE_CLAIMS = "UPDATE alert_outbox SET claimed_until = NULL WHERE claimed_by = %s AND state = 'pending'"
UPDATE_RETRY = """
UPDATE alert_outbox SET attempts = %s, next_attempt_at = %s, last_error = %s WHERE delivery_id = %s
"""
UPDATE_DELIVERED = """
UPDATE alert_outbox SET state = 'delivered', delivered_at = %s, attempts = attempts + 1 WHERE delivery_id = %s
"""
PRUNE_DELIVERED = (
    f"DELETE FROM alert_outbox WHERE state = 'delivered' AND delivered_at < now() - interval '{DELIVERED_KEPT}'"
)
INSERT_DEAD = """
INSERT INTO alert_dead_deliveries (delivery_id, channel_id, alert_id, action, attempts, error, time, payload)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
DELETE_DELIVERY = "DELETE FROM alert_outbox WHERE delivery_id = %s"


def delivery_row(delivery: Delivery, claim: OutboxClaim | None = None) -> tuple[Any, ...]:
    payload = Jsonb(delivery.payload.model_dump(mode="json"))
    claimed = (claim.claimant, claim.lease) if claim is not None else (None, None)
    return (delivery.delivery_id, delivery.channel_id, delivery.alert_id, delivery.action, payload, *claimed)


async def add_deliveries(
    cur: psycopg.AsyncCursor[Any], deliveries: Sequence[Delivery], claim: OutboxClaim | None = None
) -> None:
    """Insert outbox rows inside the caller's transaction (the alert change's), claimed by `claim`
    (the dispatcher that delivers them next); unclaimed, the next `pending()` takes them."""
    if deliveries:
        await cur.executemany(INSERT_DELIVERY, [delivery_row(delivery, claim) for delivery in deliveries])


def delivery_from(row: dict[str, Any]) -> Delivery:
    return Delivery(
        row["delivery_id"],
        row["channel_id"],
        row["action"],
        AlertPayload.model_validate(row["payload"]),
        row["attempts"],
        row["next_attempt_at"],
    )


class PgOutbox:
    def __init__(self, pool: AsyncConnectionPool, claim: OutboxClaim | None = None) -> None:
        self._pool = pool
        self.claim = claim or OutboxClaim()

    async def pending(self) -> list[Delivery]:
        """Claim the pending rows nobody holds (lease run out, released, or never claimed), in order."""
        params = {"claimant": self.claim.claimant, "lease": self.claim.lease, "limit": CLAIM_BATCH}
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(CLAIM_PENDING, params)
            rows = sorted(await cur.fetchall(), key=lambda row: int(row["id"]))
        return [delivery_from(row) for row in rows]

    async def renew(self) -> int:
        """Extend the lease of every undelivered row this claimant holds; returns how many."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(RENEW_CLAIMS, (self.claim.lease, self.claim.claimant))
            return cursor.rowcount

    async def release(self) -> int:
        """Give back every undelivered row this claimant holds (its dispatcher stopped)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(RELEASE_CLAIMS, (self.claim.claimant,))
            return cursor.rowcount

    async def retry(self, delivery: Delivery, attempts: int, next_attempt_at: datetime, error: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(UPDATE_RETRY, (attempts, next_attempt_at, error, delivery.delivery_id))

    async def delivered(self, delivery: Delivery, at: datetime) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(UPDATE_DELIVERED, (at, delivery.delivery_id))
            await conn.execute(PRUNE_DELIVERED)

    async def dead(self, dead: DeadDelivery) -> None:
        payload = Jsonb(dead.payload.model_dump(mode="json")) if dead.payload is not None else None
        row = (dead.delivery_id, dead.channel_id, dead.alert_id, dead.action, dead.attempts, dead.error, dead.at)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(INSERT_DEAD, (*row, payload))
            await conn.execute(DELETE_DELIVERY, (dead.delivery_id,))


class MemoryOutbox:
    """The outbox in memory (tests, API-only runs): pending rows in order, the last dead ones."""

    def __init__(self) -> None:
        self.rows: OrderedDict[str, Delivery] = OrderedDict()
        self.delivered_ids: list[str] = []
        self.dead_deliveries: list[DeadDelivery] = []

    def add(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            self.rows[delivery.delivery_id] = delivery
        while len(self.rows) > MAX_MEMORY_ROWS:
            self.rows.popitem(last=False)

    async def pending(self) -> list[Delivery]:
        return list(self.rows.values())

    async def retry(self, delivery: Delivery, attempts: int, next_attempt_at: datetime, error: str) -> None:
        if delivery.delivery_id in self.rows:
            self.rows[delivery.delivery_id] = replace(delivery, attempts=attempts, next_attempt_at=next_attempt_at)

    async def delivered(self, delivery: Delivery, at: datetime) -> None:
        self.rows.pop(delivery.delivery_id, None)
        self.delivered_ids = [*self.delivered_ids[-MAX_MEMORY_ROWS + 1 :], delivery.delivery_id]

    async def dead(self, dead: DeadDelivery) -> None:
        self.rows.pop(dead.delivery_id, None)
        self.dead_deliveries = [*self.dead_deliveries[-MAX_MEMORY_ROWS + 1 :], dead]
