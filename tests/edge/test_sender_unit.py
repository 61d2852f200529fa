"""The spool sender's supervision with an in-memory link: a client library that raises, a broker that
never acknowledges (the stall shows in health), ordering and at-most-window resends."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from edge.publish.link import LinkError
from edge.publish.sender import EventPublisher, SenderOptions
from edge.publish.spool import EventSpool, SpooledMessage

OPTIONS = SenderOptions(window=50, ack_timeout_s=0.3, stall_after_s=0.5, reconnect_initial_s=0.05, reconnect_max_s=0.1)


class MemorySession:
    def __init__(self, link: MemoryLink) -> None:
        self.link = link
        self.lost: str | None = None

    def send(self, messages: Sequence[SpooledMessage], timeout: float) -> list[int]:
        with self.link.lock:
            self.link.sends += 1
            if self.link.raise_on_send:
                self.link.raise_on_send -= 1
                raise RuntimeError("Message publish failed: The client is not currently connected.")
        if self.link.silent:
            time.sleep(timeout)
            self.lost = "no acknowledgement"
            return []
        self.link.received.extend(m.payload for m in messages)
        return [m.seq for m in messages]

    def publish_retained(self, topic: str, payload: bytes) -> None:
        self.link.retained.append((topic, payload))

    def publish_volatile(self, topic: str, payload: bytes) -> bool:
        return True

    def publish_live(self, topic: str, payload: bytes) -> bool:
        return self.lost is None

    def close(self, final: Sequence[tuple[str, bytes]], timeout: float) -> None:
        self.link.retained.extend(final)


class MemoryLink:
    name = "memory test"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[bytes] = []
        self.retained: list[tuple[str, bytes]] = []
        self.raise_on_send = 0
        self.refuse_opens = 0
        self.silent = False
        self.sends = 0

    def open(self, timeout: float) -> MemorySession:
        if self.refuse_opens:
            self.refuse_opens -= 1
            raise LinkError("connection refused")
        return MemorySession(self)


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_client_library_that_raises_restarts_the_session_and_loses_nothing(tmp_path: Path) -> None:
    link = MemoryLink()
    link.raise_on_send, link.refuse_opens = 3, 2
    spool = EventSpool(tmp_path / "s.sqlite3", 10_000)
    publisher = EventPublisher(link, spool, OPTIONS)
    for n in range(300):
        publisher.enqueue_event("t", f"{n}".encode(), f"e:{n}")
    publisher.set_retained("status", b"online")
    publisher.start()
    assert wait_until(lambda: spool.depth == 0, 10)
    assert link.received == [f"{n}".encode() for n in range(300)]  # in order, each once
    health = publisher.health()
    assert health.alive and health.restarts == 5 and "RuntimeError" in (health.last_error or "")
    assert link.retained.count(("status", b"online")) >= 3  # re-sent at the start of every session
    publisher.stop([("status", b"offline")])
    assert link.retained[-1] == ("status", b"offline") and not publisher.alive
    spool.close()


def test_a_broker_that_never_acknowledges_shows_as_stalled_then_recovers(tmp_path: Path) -> None:
    link = MemoryLink()
    link.silent = True
    spool = EventSpool(tmp_path / "s.sqlite3", 10_000)
    publisher = EventPublisher(link, spool, OPTIONS)
    publisher.start()
    time.sleep(0.8)
    assert not publisher.stalled()  # nothing waits: an idle sender is not stalled
    publisher.enqueue_event("t", b"x", "e:x")
    assert wait_until(publisher.stalled, 3)
    health = publisher.health()
    assert health.stalled and health.seconds_since_progress >= OPTIONS.stall_after_s and health.alive
    assert wait_until(lambda: publisher.resent >= 1, 3)  # offered again in each new session
    link.silent = False
    assert wait_until(lambda: spool.depth == 0, 5)
    assert not publisher.stalled() and link.received == [b"x"]
    publisher.stop([])
    spool.close()


def test_the_watchdog_restarts_a_sender_thread_that_ended(tmp_path: Path) -> None:
    link = MemoryLink()
    spool = EventSpool(tmp_path / "s.sqlite3", 10_000)
    publisher = EventPublisher(link, spool, OPTIONS)
    publisher._run = lambda: None  # type: ignore[method-assign]  # a thread that ends at once
    publisher.start()
    assert wait_until(lambda: not publisher.alive, 2)
    del publisher._run  # the real loop again
    publisher.ensure_running()
    publisher.enqueue_event("t", b"y")
    assert wait_until(lambda: spool.depth == 0, 5) and publisher.alive
    publisher.stop([])
    spool.close()
