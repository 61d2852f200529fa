"""Signed webhooks: a JSON POST per alert delivery, retried with the project's capped, jittered
backoff (`contract.backoff.jittered_delay`), and dead after the channel's `max_attempts`.

Each delivery runs in its own task (at most `concurrency` POSTs at once, at most `queue_size`
deliveries held), so a failing receiver never blocks others. Every attempt is recorded in the
outbox (`DeliveryLedger`): a restart during a backoff resumes the delivery with the attempts it
had made. The secret is never logged; URLs are logged redacted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx

from contract.backoff import jittered_delay
from contract.config.channels import WebhookChannel
from contract.redact import redact_url
from server.notify.base import DeliveryCounts
from server.notify.outbox import DeadDelivery, Delivery, DeliveryLedger
from server.notify.signing import signed_headers
from server.notify.templates import BodyRenderer

logger = logging.getLogger(__name__)

DELIVERY_HEADER = "X-IOC-Delivery"
MAX_DEAD_KEPT = 1000
RETRY_INITIAL_S = 1.0
RETRY_MAX_S = 300.0


class TemporaryFailureError(Exception):
    """The receiver failed in a way worth retrying (network, 5xx, 429)."""


class PermanentFailureError(Exception):
    """The receiver refused the delivery (4xx other than 408 / 429): retrying will not help."""


def body_of(delivery: Delivery) -> bytes:
    document = {"event": delivery.action, "alert": delivery.payload.model_dump(mode="json")}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookNotifier:
    def __init__(
        self,
        channel: WebhookChannel,
        clock: Callable[[], datetime],
        ledger: DeliveryLedger | None = None,
        counts: DeliveryCounts | None = None,
        retry_initial_s: float = RETRY_INITIAL_S,
        retry_max_s: float = RETRY_MAX_S,
        concurrency: int = 8,
        queue_size: int = 1000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.channel_id = channel.id
        self._channel = channel
        self._renderer = BodyRenderer(channel.id, channel.template)
        self._clock = clock
        self._ledger = ledger
        self._counts = counts or DeliveryCounts()
        self._retry = (retry_initial_s, retry_max_s)
        self._slots = asyncio.Semaphore(concurrency)
        self._queue_size = queue_size
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.dropped = 0
        self.dead: deque[DeadDelivery] = deque(maxlen=MAX_DEAD_KEPT)

    async def start(self) -> None:
        timeout = self._channel.timeout.total_seconds()
        self._client = httpx.AsyncClient(timeout=timeout, transport=self._transport, follow_redirects=False)

    async def deliver(self, delivery: Delivery) -> None:
        if len(self._tasks) >= self._queue_size:
            self.dropped += 1
            self._counts.count(self.channel_id, "dropped")
            logger.error(
                "webhook %s: %s deliveries waiting; alert %s left in the outbox for the next start",
                self.channel_id,
                len(self._tasks),
                delivery.alert_id,
            )
            return
        task = asyncio.create_task(self._deliver(delivery), name=f"webhook-{self.channel_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery) -> None:
        await self._wait_until(delivery.next_attempt_at)
        rendered = self._renderer.render(delivery)
        body, attempt, error = body_of(delivery) if rendered is None else rendered, delivery.attempts, ""
        while attempt < self._channel.max_attempts:
            attempt += 1
            try:
                async with self._slots:
                    await self._post(body, delivery.delivery_id)
            except TemporaryFailureError as exc:
                error = str(exc)
            except PermanentFailureError as exc:
                error = str(exc)
                break
            else:
                await self._delivered(delivery, attempt)
                return
            if attempt < self._channel.max_attempts:
                await self._back_off(delivery, attempt, error)
        await self._dead_delivery(delivery, attempt, error or "no attempts left")

    async def _back_off(self, delivery: Delivery, attempt: int, error: str) -> None:
        delay = jittered_delay(attempt, *self._retry)
        next_at = self._clock() + timedelta(seconds=delay)
        await self._record("the retry", self._ledger.retry(delivery, attempt, next_at, error) if self._ledger else None)
        await self._wait_until(next_at)

    async def _wait_until(self, at: datetime | None) -> None:
        """Sleep until `at`; a close() meanwhile cancels the sleep (the outbox keeps the delivery)."""
        delay = (at - self._clock()).total_seconds() if at is not None else 0.0
        if delay <= 0:
            return
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            await asyncio.sleep(delay)
        finally:
            self._waiting.discard(task)

    async def _post(self, body: bytes, delivery_id: str) -> None:
        assert self._client is not None, "start() the notifier first"
        timestamp = int(self._clock().timestamp())
        headers = signed_headers(self._channel.secret.get_secret_value(), timestamp, body)
        headers[DELIVERY_HEADER] = delivery_id
        headers["Content-Type"] = self._renderer.content_type
        try:
            response = await self._client.post(self._channel.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryFailureError(f"{type(exc).__name__}: {redact_url(str(exc))}") from exc
        if response.status_code < 300:
            return
        reason = f"HTTP {response.status_code}"
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TemporaryFailureError(reason)
        raise PermanentFailureError(reason)

    async def _delivered(self, delivery: Delivery, attempt: int) -> None:
        self.delivered += 1
        self._counts.count(self.channel_id, "delivered")
        if attempt > 1:
            logger.info(
                "webhook %s: alert %s %s delivered at attempt %s",
                self.channel_id,
                delivery.alert_id,
                delivery.action,
                attempt,
            )
        await self._record("the delivery", self._ledger.delivered(delivery, self._clock()) if self._ledger else None)

    async def _dead_delivery(self, delivery: Delivery, attempts: int, error: str) -> None:
        dead = DeadDelivery.of(delivery, attempts, error, self._clock())
        self.dead.append(dead)
        self._counts.count(self.channel_id, "dead")
        logger.error(
            "webhook %s (%s): alert %s %s dead after %s attempts (kept in alert_dead_deliveries): %s",
            self.channel_id,
            redact_url(self._channel.url),
            delivery.alert_id,
            delivery.action,
            attempts,
            error,
        )
        await self._record("the dead delivery", self._ledger.dead(dead) if self._ledger else None)

    async def _record(self, what: str, write: Awaitable[None] | None) -> None:
        """Write to the outbox; a failure is logged (the row stays pending: resent after a restart)."""
        if write is None:
            return
        try:
            await write
        except Exception:
            logger.exception(
                "webhook %s: could not record %s in the outbox; resent after a restart", self.channel_id, what
            )

    async def drain(self, timeout: float | None) -> None:
        """Wait (at most `timeout`, None: until done) for deliveries in flight, e.g. in tests and at shutdown."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def retire(self) -> None:
        """Replaced by a reload: every delivery in flight runs to success or its dead delivery, then close.
        Retries keep the URL and secret they started with (what the alert was sent under)."""
        await self.drain(timeout=None)
        await self.close()

    async def close(self) -> None:
        """Shutdown: deliveries waiting out a backoff stop at once (the outbox resumes them at the next
        start); POSTs under way get a short grace."""
        for task in list(self._waiting):
            task.cancel()
        await self.drain(timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
