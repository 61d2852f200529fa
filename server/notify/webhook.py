"""Signed webhooks: a JSON POST per alert change, retried with capped, jittered backoff, and
dead-lettered after the channel's `max_attempts`. Each delivery runs in its own task (at most
`concurrency` at once, at most `queue_size` waiting), so a failing receiver never blocks others.
The secret is never logged; URLs are logged redacted."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from contract.config.channels import WebhookChannel
from contract.redact import redact_url
from server.alerts.model import AlertChange
from server.notify.signing import signed_headers

logger = logging.getLogger(__name__)

DELIVERY_HEADER = "X-IOC-Delivery"
MAX_DEAD_LETTERS = 1000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    channel_id: str
    delivery_id: str
    alert_id: str
    action: str
    attempts: int
    error: str
    at: datetime


DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 300.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [base * 2^(attempt-1) / 2, base * 2^(attempt-1)], capped."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


class TemporaryFailureError(Exception):
    """The receiver failed in a way worth retrying (network, 5xx, 429)."""


class PermanentFailureError(Exception):
    """The receiver refused the delivery (4xx other than 408 / 429): retrying will not help."""


def body_of(change: AlertChange) -> bytes:
    document = {"event": change.action, "alert": change.payload.model_dump(mode="json")}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookNotifier:
    def __init__(
        self,
        channel: WebhookChannel,
        clock: Callable[[], datetime],
        dead_letters: DeadLetterSink | None = None,
        backoff: Backoff | None = None,
        concurrency: int = 8,
        queue_size: int = 1000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.channel_id = channel.id
        self._channel = channel
        self._clock = clock
        self._sink = dead_letters
        self._backoff = backoff or Backoff()
        self._slots = asyncio.Semaphore(concurrency)
        self._queue_size = queue_size
        self._tasks: set[asyncio.Task[None]] = set()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.dropped = 0
        self.dead: deque[DeadLetter] = deque(maxlen=MAX_DEAD_LETTERS)

    async def start(self) -> None:
        timeout = self._channel.timeout.total_seconds()
        self._client = httpx.AsyncClient(timeout=timeout, transport=self._transport, follow_redirects=False)

    async def deliver(self, change: AlertChange) -> None:
        if len(self._tasks) >= self._queue_size:
            self.dropped += 1
            logger.error(
                "webhook %s: %s deliveries waiting; dropped alert %s",
                self.channel_id,
                len(self._tasks),
                change.payload.id,
            )
            return
        task = asyncio.create_task(self._deliver(change, str(uuid.uuid4())))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, change: AlertChange, delivery_id: str) -> None:
        body = body_of(change)
        error = ""
        for attempt in range(1, self._channel.max_attempts + 1):
            try:
                async with self._slots:
                    await self._post(body, delivery_id)
                self.delivered += 1
                return
            except TemporaryFailureError as exc:
                error = str(exc)
            except PermanentFailureError as exc:
                error = str(exc)
                break
            if attempt < self._channel.max_attempts:
                await asyncio.sleep(self._backoff.delay(attempt))
        await self._dead_letter(change, delivery_id, attempt, error)

    async def _post(self, body: bytes, delivery_id: str) -> None:
        assert self._client is not None, "start() the notifier first"
        timestamp = int(self._clock().timestamp())
        headers = signed_headers(self._channel.secret.get_secret_value(), timestamp, body)
        headers[DELIVERY_HEADER] = delivery_id
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

    async def _dead_letter(self, change: AlertChange, delivery_id: str, attempts: int, error: str) -> None:
        letter = DeadLetter(
            self.channel_id, delivery_id, change.payload.id, change.action, attempts, error, self._clock()
        )
        self.dead.append(letter)
        logger.error(
            "webhook %s (%s): alert %s %s dead-lettered after %s attempts: %s",
            self.channel_id,
            redact_url(self._channel.url),
            change.payload.id,
            change.action,
            attempts,
            error,
        )
        if self._sink is not None:
            try:
                await self._sink(letter)
            except Exception:
                logger.exception(
                    "webhook %s: could not store the dead letter for alert %s", self.channel_id, change.payload.id
                )

    async def drain(self, timeout: float | None) -> None:
        """Wait (at most `timeout`, None: until done) for deliveries in flight, e.g. in tests and at shutdown."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def retire(self) -> None:
        """Replaced by a reload: every delivery in flight runs to success or its dead letter, then close.
        Retries keep the URL and secret they started with (what the alert was sent under)."""
        await self.drain(timeout=None)
        await self.close()

    async def close(self) -> None:
        await self.drain(timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
