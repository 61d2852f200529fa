"""Decode and write: messages from the buffer become `WriteBatch`es (size- or time-bounded),
committed in order by one writer, then acknowledged and shown to observers.

While the database is down the writer retries the same batch with capped, jittered backoff;
nothing is acknowledged, so the broker stops sending after `Receive Maximum` messages and memory
stays bounded. A batch the database refuses for good is retried message by message, and a
message that still fails becomes a dead letter (`store_rejected`), so one bad row cannot stall
ingest.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

from server.ingest.errors import Reason, Rejected
from server.ingest.router import MessageRouter
from server.ingest.transport import Delivery, Inbox
from server.metrics import Metrics
from server.store.base import Store, StoreRejectedError, StoreUnavailableError, WriteBatch, WriteResult
from server.store.records import StoredEvent, StoredReading

logger = logging.getLogger(__name__)

STORE_REJECTED = "store_rejected"
DECODE_FAILED = "decode_failed"
"""A decoder raised something other than `Rejected` (a bug or a poison it did not foresee)."""


@dataclass
class Pending:
    items: list[Delivery] = field(default_factory=list)
    batch: WriteBatch = field(default_factory=WriteBatch)
    refused: list[Delivery] = field(default_factory=list)
    """Items that gave nothing but dead letters: the transport terminates them instead of acking."""

    def settled_as_stored(self) -> list[Delivery]:
        refused = {id(item) for item in self.refused}
        return [item for item in self.items if id(item) not in refused]


class BatchCollector:
    """Turns buffered messages into batches of at most `max_rows` readings or `max_delay` seconds.

    Natural batching: while the writer is idle, whatever has arrived is handed over at once (low
    latency when traffic is light); while it is busy, messages accumulate into bigger batches.
    """

    def __init__(
        self,
        buffer: Inbox,
        router: MessageRouter,
        max_rows: int,
        max_delay: float,
        writer_idle: Callable[[], bool] = lambda: False,
    ) -> None:
        self._buffer = buffer
        self._router = router
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._writer_idle = writer_idle
        self.decode_failures = 0

    async def next_batch(self) -> Pending:
        await self._buffer.wait()
        pending = Pending()
        deadline = time.monotonic() + self._max_delay
        while True:
            for item in self._buffer.take(max(1, self._max_rows - len(pending.batch.readings))):
                pending.items.append(item)
                self._route(item, pending)
            left = deadline - time.monotonic()
            full = len(pending.batch.readings) >= self._max_rows or len(pending.items) >= self._max_rows
            if full or left <= 0 or (self._writer_idle() and not len(self._buffer)):
                return pending
            if not await self._buffer.wait(left):
                return pending

    def _route(self, item: Delivery, pending: Pending) -> None:
        batch = pending.batch
        sizes = _sizes(batch)
        try:
            self._router.route(item.topic, item.payload, item.received_at, batch)
        except Exception as exc:  # a decoder bug must cost one message, never the ingest
            _truncate(batch, sizes)
            self._decode_failed(item, batch, exc)
        rows = len(batch.readings) - sizes[_READINGS] + len(batch.events) - sizes[_EVENTS]
        if not rows and len(batch.dead_letters) > sizes[_LETTERS]:
            pending.refused.append(item)

    def _decode_failed(self, item: Delivery, batch: WriteBatch, exc: Exception) -> None:
        self.decode_failures += 1
        if self.decode_failures == 1 or self.decode_failures % 1000 == 0:
            logger.error(
                "decoding a message on %s raised %s (%d so far): stored as a dead letter, ingest goes on",
                item.topic[:200],
                type(exc).__name__,
                self.decode_failures,
            )
        detail = f"{type(exc).__name__}: {str(exc)[:400]}"
        letter = self._router.dead_letter(
            item.topic, item.payload, item.received_at, Rejected(Reason.TOO_LARGE, ""), None
        )
        batch.dead_letters.append(replace(letter, reason=DECODE_FAILED, detail=detail))


_BATCH_LISTS = tuple(f.name for f in fields(WriteBatch))
_READINGS, _EVENTS, _LETTERS = (_BATCH_LISTS.index(name) for name in ("readings", "events", "dead_letters"))


def _sizes(batch: WriteBatch) -> tuple[int, ...]:
    return tuple(len(getattr(batch, name)) for name in _BATCH_LISTS)


def _truncate(batch: WriteBatch, sizes: tuple[int, ...]) -> None:
    """Drop what a failed decode appended half-way."""
    for name, size in zip(_BATCH_LISTS, sizes, strict=True):
        del getattr(batch, name)[size:]


class Backoff:
    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self._first, self._cap, self._next = first, cap, first

    def reset(self) -> None:
        self._next = self._first

    async def sleep(self) -> None:
        delay = self._next * random.uniform(0.5, 1.0)
        self._next = min(self._cap, self._next * 2)
        await asyncio.sleep(delay)


class BatchWriter:
    """Writes pending batches in order; tracks database health."""

    def __init__(
        self,
        store: Store,
        router: MessageRouter,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._router = router
        self._metrics = metrics
        self._backoff = Backoff()
        self.database_ok = True
        self.last_error: str | None = None

    async def write(self, pending: Pending) -> WriteResult:
        """Commit `pending` (retrying while the database is unavailable)."""
        while True:
            try:
                result = await self._store.write(pending.batch)
            except StoreUnavailableError as exc:
                self._unavailable(exc)
                await self._backoff.sleep()
                continue
            except StoreRejectedError as exc:
                self._metrics.write_failures.labels("rejected").inc()
                logger.error(
                    "database refused a batch of %d messages (%s); retrying one by one", len(pending.items), exc
                )
                return await self._write_one_by_one(pending)
            self._available()
            return result

    def _unavailable(self, exc: Exception) -> None:
        self._metrics.write_failures.labels("unavailable").inc()
        self._metrics.db_up.set(0)
        self.last_error = str(exc)[:300]
        if self.database_ok:
            logger.error("database unavailable, holding messages unacked and retrying: %s", self.last_error)
        self.database_ok = False

    def _available(self) -> None:
        if not self.database_ok:
            logger.info("database available again")
        self.database_ok = True
        self.last_error = None
        self._metrics.db_up.set(1)
        self._backoff.reset()

    async def _write_one_by_one(self, pending: Pending) -> WriteResult:
        readings: list[StoredReading] = []
        events: list[StoredEvent] = []
        for item in pending.items:
            single = Pending([item])
            self._router.route(item.topic, item.payload, item.received_at, single.batch)
            try:
                result = await self._write_retrying(single.batch)
            except StoreRejectedError as exc:
                letter = self._router.dead_letter(
                    item.topic, item.payload, item.received_at, Rejected(Reason.TOO_LARGE, ""), None
                )
                letter = replace(letter, reason=STORE_REJECTED, detail=str(exc)[:500])
                await self._write_retrying(WriteBatch(dead_letters=[letter]))
                self._metrics.dead_letters.labels(STORE_REJECTED).inc()
                continue
            readings.extend(result.readings)
            events.extend(result.events)
        return WriteResult(readings, events)

    async def write_batch(self, batch: WriteBatch) -> WriteResult:
        """Commit a batch that came from no MQTT message (station files): retry while the database
        is unavailable; a refusal raises `StoreRejectedError` for the caller to handle."""
        result = await self._write_retrying(batch)
        self._available()
        return result

    async def _write_retrying(self, batch: WriteBatch) -> WriteResult:
        """Retry while unavailable; let StoreRejectedError through."""
        while True:
            try:
                return await self._store.write(batch)
            except StoreUnavailableError as exc:
                self._unavailable(exc)
                await self._backoff.sleep()
