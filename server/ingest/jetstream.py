"""The `jetstream` transport: NATS JetStream, a durable pull consumer shared by every replica.

One owner task connects (retrying with backoff), ensures stream `IOC` (file storage, duplicate
window, the subjects of every subscribed topic) and the durable consumer `INGEST_DURABLE`
(explicit acks, bounded `max_ack_pending` and `max_deliver`, filtered to the subscribed
subjects), then fetches batches into a bounded inbox. Each message is settled one by one after
its batch is committed: `ack`, `term` (a dead letter) or `nak` with a delay (a failure that may
pass). Messages held while the database is away get `in_progress` so they are not handed to
another replica meanwhile. Readings through NATS's MQTT listener arrive on the same subjects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, StorageType, StreamConfig

from contract.backoff import Backoff
from contract.config import StreamsConfig
from contract.jetstream import INGEST_DURABLE, STREAM_NAME, subject_of, topic_of
from contract.redact import redact_url
from contract.timeutil import utc_now
from server.ingest.inbox import AsyncInbox
from server.ingest.transport import Delivery
from server.settings import Settings

logger = logging.getLogger(__name__)

NAK_DELAY_S = 2.0
FETCH_WAIT_S = 1.0


@dataclass(slots=True, eq=False)
class JsDelivery:
    topic: str
    payload: bytes
    received_at: datetime
    arrived: float
    msg: Msg


def filter_subjects(topics: Sequence[str]) -> list[str]:
    """The consumer's subjects for the router's topic filters (distinct, in order)."""
    return list(dict.fromkeys(subject_of(topic) for topic in topics))


def stream_subjects(prefix: str, subjects: Sequence[str]) -> list[str]:
    """`<prefix>.>` plus each subscribed subject outside the prefix (sensors' own topics)."""
    root = subject_of(prefix)
    return [f"{root}.>", *(s for s in subjects if not s.startswith(root + "."))]


class JetStreamTransport:
    name = "jetstream"

    def __init__(self, settings: Settings, config: StreamsConfig, topics: Sequence[str]) -> None:
        self._settings = settings
        self._prefix = config.mqtt.topic_prefix
        self._subjects = filter_subjects(topics)
        self._max_held = max(settings.nats_fetch_batch, 2 * settings.batch_max_rows)
        self._inbox: AsyncInbox[JsDelivery] = AsyncInbox(self._max_held)
        self._held: dict[int, tuple[JsDelivery, float]] = {}
        self._room = asyncio.Event()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._bound = False
        self._tasks: list[asyncio.Task[None]] = []
        self.redelivered = 0

    @property
    def inbox(self) -> AsyncInbox[JsDelivery]:
        return self._inbox

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def ready(self) -> bool:
        return self.connected and self._bound

    @property
    def held(self) -> int:
        return len(self._held)

    def reconfigure(self, config: StreamsConfig) -> None:
        self._prefix = config.mqtt.topic_prefix

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="jetstream-consume"),
            asyncio.create_task(self._keep_in_progress(), name="jetstream-in-progress"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def set_topics(self, topics: Sequence[str]) -> None:
        subjects = filter_subjects(topics)
        if subjects == self._subjects:
            return
        self._subjects = subjects
        if self._js is not None:
            await self._ensure(self._js)
            logger.info("consumer %s now filters %d subjects", INGEST_DURABLE, len(subjects))

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for item in self._settle(deliveries):
            await item.msg.ack()

    async def terminate(self, deliveries: Sequence[Delivery]) -> None:
        for item in self._settle(deliveries):
            await item.msg.term()

    async def retry_later(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        exhausted: list[Delivery] = []
        for item in self._settle(deliveries):
            if item.msg.metadata.num_delivered >= self._settings.nats_max_deliver:
                exhausted.append(item)
                self._held[id(item)] = (item, time.monotonic())  # still ours until terminated
            else:
                await item.msg.nak(delay=NAK_DELAY_S)
        return exhausted

    def _settle(self, deliveries: Sequence[Delivery]) -> list[JsDelivery]:
        settled = [item for item in deliveries if isinstance(item, JsDelivery)]
        for item in settled:
            self._held.pop(id(item), None)
        if len(self._held) < self._max_held:
            self._room.set()
        return settled

    # ------------------------------------------------------------------ the owner task

    async def _run(self) -> None:
        backoff = Backoff(0.5, 10.0)
        while True:
            try:
                await self._consume(backoff)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._bound = False
                if backoff.attempts == 0:
                    logger.error("jetstream consumer failed (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(backoff.next_delay())

    async def _consume(self, backoff: Backoff) -> None:
        nc = self._nc if self._nc is not None and not self._nc.is_closed else await self._connect()
        js = nc.jetstream(timeout=5)
        self._js = js
        await self._ensure(js)
        subscription = await js.pull_subscribe_bind(durable=INGEST_DURABLE, stream=STREAM_NAME)
        self._bound = True
        if backoff.attempts:
            logger.info("jetstream consumer %s bound again", INGEST_DURABLE)
        backoff.reset()
        while True:
            room = self._max_held - len(self._held)
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                messages = await subscription.fetch(min(room, self._settings.nats_fetch_batch), timeout=FETCH_WAIT_S)
            except nats.errors.TimeoutError:
                continue
            self._receive(messages)

    def _receive(self, messages: list[Msg]) -> None:
        now, arrived = utc_now(), time.monotonic()
        deliveries = [JsDelivery(topic_of(msg.subject), msg.data, now, arrived, msg) for msg in messages]
        for item in deliveries:
            self._held[id(item)] = (item, arrived)
        self._inbox.extend(deliveries)

    async def _connect(self) -> Client:
        servers = self._settings.nats_servers
        nc = await nats.connect(
            servers=servers,
            name=self._settings.mqtt_client_id,
            connect_timeout=2,
            reconnect_time_wait=0.5,
            max_reconnect_attempts=-1,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        logger.info("connected to NATS %s", ",".join(redact_url(url) for url in servers))
        self._nc = nc
        return nc

    async def _ensure(self, js: JetStreamContext) -> None:
        """Stream `IOC` and the durable consumer exist with our settings (created or updated)."""
        settings = self._settings
        stream = StreamConfig(
            name=STREAM_NAME,
            subjects=stream_subjects(self._prefix, self._subjects),
            storage=StorageType.FILE,
            num_replicas=settings.nats_stream_replicas,
            duplicate_window=settings.nats_duplicate_window_s,
            max_age=settings.nats_max_age_s,
            discard=DiscardPolicy.OLD,
        )
        try:
            await js.stream_info(STREAM_NAME)
        except nats.js.errors.NotFoundError:
            with contextlib.suppress(nats.js.errors.BadRequestError):  # another replica made it first
                await js.add_stream(stream)
        else:
            await js.update_stream(stream)
        consumer = ConsumerConfig(
            name=INGEST_DURABLE,
            durable_name=INGEST_DURABLE,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=settings.nats_ack_wait_s,
            max_deliver=settings.nats_max_deliver,
            max_ack_pending=settings.nats_max_ack_pending,
            filter_subjects=self._subjects,
        )
        await js.add_consumer(STREAM_NAME, consumer)

    async def _keep_in_progress(self) -> None:
        """Messages held longer than a third of `ack_wait` (the database is away): `in_progress`."""
        period = self._settings.nats_ack_wait_s / 3
        while True:
            await asyncio.sleep(period)
            cutoff = time.monotonic() - period
            old = [item for item, since in list(self._held.values()) if since < cutoff]
            for item in old:
                with contextlib.suppress(Exception):
                    await item.msg.in_progress()
            now = time.monotonic()
            for item in old:
                if id(item) in self._held:
                    self._held[id(item)] = (item, now)

    async def _on_error(self, exc: Exception) -> None:
        logger.debug("nats: %s: %s", type(exc).__name__, exc)

    async def _on_disconnected(self) -> None:
        logger.warning("lost NATS; reconnecting (unacknowledged messages come back after ack_wait)")

    async def _on_reconnected(self) -> None:
        logger.info("reconnected to NATS")
