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
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import nats
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
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
STATUS_HEADER = "Status"


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


class PullRequests:
    """Pull requests for the durable consumer, answered on one inbox subscription.

    nats-py's `fetch` waits for each message with its own timer task; here the subscription's
    callback takes the messages as they arrive and one request is outstanding at a time: it is
    done when its batch has arrived, when the server answers with a status (no messages, request
    expired, leadership change) or after `FETCH_WAIT_S` plus a margin.
    """

    def __init__(self, nc: Client, deliver: Callable[[Msg], None]) -> None:
        self._nc = nc
        self._deliver = deliver
        self._inbox = nc.new_inbox()
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{STREAM_NAME}.{INGEST_DURABLE}"
        self._expected = 0
        self._done = asyncio.Event()
        self._subscription: Subscription | None = None

    async def subscribe(self) -> None:
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._on_message, pending_msgs_limit=-1)

    async def unsubscribe(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def pull(self, batch: int) -> None:
        self._expected = batch
        self._done.clear()
        request = json.dumps({"batch": batch, "expires": int(FETCH_WAIT_S * 1e9)}).encode()
        await self._nc.publish(self._subject, request, reply=self._inbox)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), FETCH_WAIT_S + 1.0)

    async def _on_message(self, msg: Msg) -> None:
        if not msg.data and msg.headers and STATUS_HEADER in msg.headers:
            self._done.set()  # 404 no messages, 408 expired, 409 leadership change / max waiting
            return
        self._deliver(msg)
        self._expected -= 1
        if self._expected <= 0:
            self._done.set()


class JetStreamTransport:
    name = "jetstream"

    def __init__(self, settings: Settings, config: StreamsConfig, topics: Sequence[str]) -> None:
        self._settings = settings
        self._prefix = config.mqtt.topic_prefix
        self._subjects = filter_subjects(topics)
        self._max_held = max(settings.nats_fetch_batch, 2 * settings.batch_max_rows)
        # headroom for one late batch (a request given up locally that the server still answers)
        self._inbox: AsyncInbox[JsDelivery] = AsyncInbox(self._max_held + settings.nats_fetch_batch)
        self._held: dict[int, tuple[JsDelivery, float]] = {}
        self._room = asyncio.Event()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._bound = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def inbox(self) -> AsyncInbox[JsDelivery]:
        return self._inbox

    @property
    def connected(self) -> bool:
        """Connected and bound to the consumer (connected alone ingests nothing: /health says so)."""
        return self._nc is not None and self._nc.is_connected and self._bound

    @property
    def ready(self) -> bool:
        return self.connected

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
        puller = PullRequests(nc, self._receive)
        await puller.subscribe()
        self._bound = True
        if backoff.attempts:
            logger.info("jetstream consumer %s bound again", INGEST_DURABLE)
        backoff.reset()
        try:
            while True:
                room = self._max_held - len(self._held)
                if room <= 0:
                    self._room.clear()
                    await self._room.wait()
                    continue
                await puller.pull(min(room, self._settings.nats_fetch_batch))
        finally:
            await puller.unsubscribe()

    def _receive(self, msg: Msg) -> None:
        item = JsDelivery(topic_of(msg.subject), msg.data, utc_now(), time.monotonic(), msg)
        self._held[id(item)] = (item, item.arrived)
        self._inbox.append(item)

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
            try:
                await self._mark_in_progress(period)
            except Exception:  # never end the task: the next period tries again
                logger.exception("jetstream: marking held messages in progress failed")

    async def _mark_in_progress(self, period: float) -> None:
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
