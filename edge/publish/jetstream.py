"""NATS JetStream link (nats-py): events published straight into the stream, acknowledged by it.

Each event goes to the stream subject of its MQTT topic (`contract.jetstream.subject_of`) with the
header `Nats-Msg-Id` = `event_msg_id(...)`; a spool row is deleted only after the stream's PubAck,
and a resend after a lost session is de-duplicated by the stream within its duplicate window. The
stream `IOC` is created when absent. One asyncio loop per session runs in its own thread; the
session never reconnects by itself (the sender opens a new one). NATS has no retained messages or
last will: statuses are stored in the stream like events and re-sent at each session start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contract.jetstream import MSG_ID_HEADER, STREAM_NAME, stream_subjects, subject_of
from contract.redact import redact_text
from edge.publish.link import LinkError, LinkRejectedError
from edge.publish.spool import SpooledMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class JetStreamLinkOptions:
    url: str
    topic_prefix: str
    max_pending: int = 4000  # nats-py's bound on PubAcks awaited at once
    live_in_flight: int = 8  # live publishes handed to the session's loop and not yet buffered
    live_buffer_bytes: int = 64 * 1024  # nats-py's unflushed bytes above which a live message is dropped
    live_wait_s: float = 0.05  # the live thread waits this long at most for its publish to be buffered


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    secrets = [s for s in (parts.password, parts.username if not parts.password else None) if s]
    return redact_text(url, secrets)


def _socket_backlog(nc: NatsClient) -> int:
    """Bytes written to the connection's asyncio transport that the kernel has not taken yet.

    nats-py hands its buffer to the transport and then waits in `drain()`; what is published
    meanwhile queues behind, out of `pending_data_size`'s sight. nats-py has no public accessor:
    read its TCP transport's writer, and say 0 when that layout changes (a test covers it)."""
    writer = getattr(getattr(nc, "_transport", None), "_io_writer", None)
    transport = getattr(writer, "transport", None)
    return int(transport.get_write_buffer_size()) if transport is not None else 0


class JetStreamLink:
    def __init__(self, options: JetStreamLinkOptions) -> None:
        self._options = options

    @property
    def name(self) -> str:
        return f"jetstream {_redacted(self._options.url)}"

    def open(self, timeout: float) -> JetStreamSession:
        session = JetStreamSession(self._options)
        try:
            session.connect(timeout)
        except BaseException:
            session.close([], 0)
            raise
        return session


class JetStreamSession:
    def __init__(self, options: JetStreamLinkOptions) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-link", daemon=True)
        self._thread.start()
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._lost: str | None = None
        self._live_lock = threading.Lock()
        self._live_in_flight = 0

    @property
    def lost(self) -> str | None:
        return self._lost

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        future: ThreadFuture[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def connect(self, timeout: float) -> None:
        try:
            self._call(self._connect(timeout), timeout + 5)
        except LinkError:
            raise
        except nats.errors.Error as exc:
            message = str(exc)
            if "authorization" in message.lower():
                raise LinkRejectedError(f"the server refused us: {message}") from None
            raise LinkError(f"cannot connect: {type(exc).__name__}: {message}") from None
        except (OSError, TimeoutError) as exc:
            raise LinkError(f"cannot connect: {type(exc).__name__}: {exc}") from None

    async def _connect(self, timeout: float) -> None:
        self._nc = await nats.connect(
            self._options.url,
            allow_reconnect=False,
            max_reconnect_attempts=1,  # 0 would mean "forever" to nats-py, even for the first connect
            reconnect_time_wait=0.1,
            connect_timeout=max(1, round(timeout)),
            disconnected_cb=self._on_disconnected,
            closed_cb=self._on_disconnected,
            error_cb=self._on_error,
        )
        self._js = self._nc.jetstream(publish_async_max_pending=self._options.max_pending)
        await self._ensure_stream(self._js)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(STREAM_NAME)
        except nats.js.errors.NotFoundError:
            subjects = stream_subjects(self._options.topic_prefix)
            await js.add_stream(name=STREAM_NAME, subjects=subjects)
            logger.info("jetstream: created the stream %s on %s", STREAM_NAME, subjects)

    async def _on_disconnected(self) -> None:
        if self._lost is None:
            self._lost = "disconnected from the NATS server"

    async def _on_error(self, exc: Exception) -> None:
        if self._lost is None:
            self._lost = f"NATS error: {type(exc).__name__}: {exc}"

    def send(self, messages: Sequence[SpooledMessage], timeout: float) -> list[int]:
        try:
            return self._call(self._send(messages, timeout), timeout + 5)
        except Exception as exc:  # a publish that raised: no PubAck counted, the sender re-sends
            self._lost = self._lost or f"publish failed: {type(exc).__name__}: {exc}"
            return []

    async def _send(self, messages: Sequence[SpooledMessage], timeout: float) -> list[int]:
        assert self._js is not None
        futures: list[asyncio.Future[Any]] = []
        for message in messages:
            headers = {MSG_ID_HEADER: message.msg_id} if message.msg_id else None
            futures.append(await self._js.publish_async(subject_of(message.topic), message.payload, headers=headers))
        await asyncio.wait(futures, timeout=timeout)
        acked: list[int] = []
        for message, future in zip(messages, futures, strict=True):
            if future.done() and not future.cancelled() and future.exception() is None:
                acked.append(message.seq)
            else:
                future.cancel()
        if len(acked) < len(messages) and self._lost is None:
            self._lost = f"the stream acknowledged {len(acked)} of {len(messages)} event(s) within {timeout:.0f} s"
        return acked

    def publish_retained(self, topic: str, payload: bytes) -> None:
        self.publish_volatile(topic, payload)

    def publish_volatile(self, topic: str, payload: bytes) -> bool:
        if self._lost is not None or self._nc is None:
            return False
        asyncio.run_coroutine_threadsafe(self._nc.publish(subject_of(topic), payload), self._loop)
        return True

    def publish_live(self, topic: str, payload: bytes) -> bool:
        """A plain core NATS publish on the topic's subject (`live.<prefix>...`: no stream captures it).
        Blocks the calling (live) thread for at most `live_wait_s`."""
        nc, options = self._nc, self._options
        if self._lost is not None or nc is None or nc.pending_data_size > options.live_buffer_bytes:
            return False
        if _socket_backlog(nc) > 0:  # the kernel took not all we wrote: a slow or frozen server
            return False
        with self._live_lock:
            if self._live_in_flight >= options.live_in_flight:
                return False
            self._live_in_flight += 1
        future = asyncio.run_coroutine_threadsafe(nc.publish(subject_of(topic), payload), self._loop)
        future.add_done_callback(self._live_done)
        try:  # a buffer append on the session's loop; it waits only when nats-py must flush first
            future.result(options.live_wait_s)
        except TimeoutError:
            return False  # still in flight (counted against live_in_flight); reported as not sent
        except Exception:  # the connection is closing: the sender notices and opens a new session
            return False
        return True

    def _live_done(self, _: ThreadFuture[None]) -> None:
        with self._live_lock:
            self._live_in_flight -= 1

    def close(self, final: Sequence[tuple[str, bytes]], timeout: float) -> None:
        try:
            if self._nc is not None:
                self._call(self._close(final, timeout), timeout + 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            if not self._thread.is_alive():
                self._loop.close()

    async def _close(self, final: Sequence[tuple[str, bytes]], timeout: float) -> None:
        assert self._nc is not None
        if self._lost is None and self._js is not None and final:
            publishes = [self._js.publish(subject_of(t), p, timeout=timeout) for t, p in final]
            await asyncio.gather(*publishes, return_exceptions=True)
        self._lost = self._lost or "closed"
        if not self._nc.is_closed:
            await self._nc.close()
