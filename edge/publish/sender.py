"""The supervisor that delivers the spool: it cannot die silently.

One thread owns the link. It opens a session, re-publishes the retained statuses, then sends the
oldest spooled events in windows and deletes each one only once the broker acknowledged it. When
anything goes wrong (the session is lost, paho or nats-py raise, the broker stops acknowledging)
the session is closed, the failure is logged once, and a new session is opened after a capped,
jittered backoff: the spool is the source of truth, so the new session simply starts again from
its oldest row. `health()` says whether the sender is connected, alive and keeping up: it is
*stalled* when events have waited `stall_after_s` without any acknowledgement.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from contract.backoff import Backoff
from contract.payloads import SenderStats
from edge.publish.link import Link, LinkError, LinkRejectedError, LinkSession
from edge.publish.spool import EventSpool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderOptions:
    window: int = 1000  # events per send; also paho's in-flight bound (replay: 9k/s at 1000, 5k at 500)
    ack_timeout_s: float = 10.0  # a session without any acknowledgement this long is dropped
    connect_timeout_s: float = 5.0
    stall_after_s: float = 15.0  # events waiting this long without an acknowledgement: stalled
    reconnect_initial_s: float = 0.2
    reconnect_max_s: float = 5.0
    rejected_retry_s: float = 30.0
    final_timeout_s: float = 2.0


class EventPublisher:
    """Owns the spool sender thread and the current session (if any)."""

    def __init__(
        self,
        link: Link,
        spool: EventSpool,
        options: SenderOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._spool = spool
        self._options = options
        self._clock = clock
        self._backoff = Backoff(options.reconnect_initial_s, options.reconnect_max_s)
        self._session: LinkSession | None = None
        self._retained: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._final: list[tuple[str, bytes]] = []
        self._thread: threading.Thread | None = None
        self._progress_at = clock()  # last acknowledgement, or last time nothing waited
        self._sent_up_to = 0  # highest seq ever handed to a session: lower ones sent again are resends
        self._failing_since: float | None = None
        self._ever_connected = False
        self.restarts = 0
        self.resent = 0
        self.acknowledged = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ API for the worker

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        logger.info("sender: delivering the spool over %s", self._link.name)
        self._thread = threading.Thread(target=self._run, name="spool-sender", daemon=True)
        self._thread.start()

    def ensure_running(self) -> None:
        """The watchdog: a sender thread that ended although not stopped is started again."""
        if not self._stop.is_set() and self._thread is not None and not self._thread.is_alive():
            logger.error("sender: the sender thread ended unexpectedly; starting it again")
            self.restarts += 1
            self.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, final: list[tuple[str, bytes]], drain_s: float = 5.0) -> None:
        """Deliver what is spooled (for up to `drain_s`), then the final retained messages, then leave."""
        deadline = self._clock() + drain_s
        while self.connected and self._spool.depth > 0 and self._clock() < deadline:
            time.sleep(0.05)
        self._final = final
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self._options.ack_timeout_s + self._options.final_timeout_s + 5)

    def enqueue_event(self, topic: str, payload: bytes, msg_id: str | None = None) -> None:
        dropped = self._spool.append(topic, payload, msg_id)
        if dropped:
            logger.warning("sender: spool full, dropped the %d oldest event(s)", dropped)
        self._wake.set()

    def set_retained(self, topic: str, payload: bytes) -> None:
        """Publish a status now if connected, and again at the start of every session."""
        with self._lock:
            self._retained[topic] = payload
            session = self._session
        if session is not None:
            self._guarded(lambda: session.publish_retained(topic, payload))

    def publish_volatile(self, topic: str, payload: bytes) -> bool:
        """QoS 0 on the current session (the stats), or False while the link is down."""
        return self._now_or_never(lambda session: session.publish_volatile(topic, payload))

    def publish_live(self, topic: str, payload: bytes) -> bool:
        """Lossy: sent now on the current session, or not at all (False) while the link is down or
        busy. Never queued, never spooled, never waits for the sender thread."""
        return self._now_or_never(lambda session: session.publish_live(topic, payload))

    def _now_or_never(self, send: Callable[[LinkSession], bool]) -> bool:
        session = self._session
        if session is None:
            return False
        sent = False

        def publish() -> None:
            nonlocal sent
            sent = send(session)

        self._guarded(publish)
        return sent

    def stalled(self) -> bool:
        idle = self._clock() - self._progress_at
        return self._spool.depth > 0 and idle > self._options.stall_after_s

    def health(self) -> SenderStats:
        return SenderStats(
            transport=self._link.name.split(" ", 1)[0],
            connected=self.connected,
            alive=self.alive,
            stalled=self.stalled(),
            seconds_since_progress=round(self._clock() - self._progress_at, 1),
            acknowledged=self.acknowledged,
            resent=self.resent,
            restarts=self.restarts,
            last_error=self.last_error,
        )

    # ------------------------------------------------------------------ the sender thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._one_session()
            except LinkError as exc:
                self._failed(str(exc), rejected=isinstance(exc, LinkRejectedError))
            except Exception as exc:  # whatever a client library throws: log, back off, start over
                logger.exception("sender: unexpected error, restarting the session")
                self._failed(f"{type(exc).__name__}: {exc}", rejected=False)

    def _one_session(self) -> None:
        session = self._link.open(self._options.connect_timeout_s)
        try:
            self._opened(session)
            self._deliver(session)
        finally:
            self._closed(session)

    def _opened(self, session: LinkSession) -> None:
        if self._failing_since is not None:
            down = self._clock() - self._failing_since
            depth = self._spool.depth
            logger.info("sender: %s is back after %.1f s; %d event(s) waiting", self._link.name, down, depth)
        elif not self._ever_connected:
            logger.info("sender: connected to %s", self._link.name)
        self._failing_since, self._ever_connected = None, True
        self._backoff.reset()
        with self._lock:
            self._session = session
            retained = list(self._retained.items())
        for topic, payload in retained:
            session.publish_retained(topic, payload)
        self._connected.set()

    def _closed(self, session: LinkSession) -> None:
        with self._lock:
            self._session = None
        self._connected.clear()
        final = self._final if self._stop.is_set() else []
        try:
            session.close(final, self._options.final_timeout_s)
        except Exception as exc:  # closing a broken session may fail too; the next one starts clean
            logger.debug("sender: closing the session failed: %s", exc)

    def _deliver(self, session: LinkSession) -> None:
        while not self._stop.is_set():
            if session.lost is not None:
                raise LinkError(session.lost)
            batch = self._spool.read_after(0, self._options.window)
            if not batch:
                self._progress_at = self._clock()
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            self.resent += sum(1 for message in batch if message.seq <= self._sent_up_to)
            self._sent_up_to = max(self._sent_up_to, batch[-1].seq)
            acked = session.send(batch, self._options.ack_timeout_s)
            self._acknowledged(acked)
            if len(acked) < len(batch):
                raise LinkError(session.lost or "the broker acknowledged only part of a window")

    def _acknowledged(self, seqs: Sequence[int]) -> None:
        if seqs:
            self._spool.delete_many(list(seqs))
            self.acknowledged += len(seqs)
            self._progress_at = self._clock()

    def _failed(self, reason: str, rejected: bool) -> None:
        self.last_error = reason
        if self._stop.is_set():
            return
        self.restarts += 1
        if self._failing_since is None:
            self._failing_since = self._clock()
            logger.warning(
                "sender: %s unavailable (%s); %d event(s) wait in the spool, retrying",
                self._link.name,
                reason,
                self._spool.depth,
            )
        else:
            logger.debug("sender: still failing: %s", reason)
        delay = self._backoff.next_delay()
        self._stop.wait(max(delay, self._options.rejected_retry_s) if rejected else delay)

    def _guarded(self, action: Callable[[], None]) -> None:
        """Calls into a session from other threads never raise into the worker (the sender recovers)."""
        try:
            action()
        except Exception as exc:
            logger.debug("sender: publish outside the sender thread failed: %s", exc)
