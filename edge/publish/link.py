"""The seam between the spool sender and a transport (MQTT, NATS JetStream).

A `Link` opens `LinkSession`s; a session lives for one connection and never reconnects by itself:
when it is lost the sender closes it and opens a new one, re-sending from the spool whatever was
not acknowledged. Exceptions:

    LinkError            the transport cannot be used right now (refused, timed out, dropped)
     └─ LinkRejectedError credentials or URL refused: retrying soon will not help
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edge.publish.spool import SpooledMessage


class LinkError(Exception):
    """The session cannot be opened or was lost. The message is safe to log (no credentials)."""


class LinkRejectedError(LinkError):
    """The broker refused us (credentials, authorisation): the sender waits longer before retrying."""


class LinkSession(Protocol):
    def send(self, messages: Sequence[SpooledMessage], timeout: float) -> list[int]:
        """Publish `messages` in order; return the `seq`s the broker acknowledged.

        Returns early (fewer seqs than messages) when the session is lost or nothing was
        acknowledged for `timeout` seconds. Thread: the sender's only.
        """
        ...

    @property
    def lost(self) -> str | None:
        """Why the session ended (None while it is up)."""
        ...

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """A status that must survive: retained (MQTT) or stored in the stream (JetStream). Any thread."""
        ...

    def publish_volatile(self, topic: str, payload: bytes) -> bool:
        """Best effort (stats); False when it was not sent. Any thread."""
        ...

    def publish_live(self, topic: str, payload: bytes) -> bool:
        """Lossy and never queued (QoS 0 / core NATS, outside the stream): sent now or not at all.

        False when the session is lost or its outgoing buffer is still busy (events first: a live
        message never waits in front of them). Any thread; never blocks on the network.
        """
        ...

    def close(self, final: Sequence[tuple[str, bytes]], timeout: float) -> None:
        """Publish `final` (retained), wait up to `timeout` for them, and disconnect."""
        ...


class Link(Protocol):
    @property
    def name(self) -> str:
        """Where it connects, for logs (credentials redacted)."""
        ...

    def open(self, timeout: float) -> LinkSession:
        """Connect (raises LinkError within about `timeout` seconds)."""
        ...
