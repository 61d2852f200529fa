"""The seam between a message transport (MQTT, NATS JetStream) and the ingest pipeline.

A transport delivers messages into an inbox the batch collector drains, and settles each one
after its batch is committed: `ack` (stored), `terminate` (a dead letter: never redeliver),
`retry_later` (a temporary failure: deliver it again). Which transport runs is a process setting
(`IOC_TRANSPORT`); the service never knows more than this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from contract.config import StreamsConfig


class Delivery(Protocol):
    """One message as the pipeline sees it; each transport adds its own settle handle."""

    @property
    def topic(self) -> str:
        """The MQTT topic name (JetStream subjects are mapped back with `topic_of`)."""

    @property
    def payload(self) -> bytes: ...

    @property
    def received_at(self) -> datetime: ...

    @property
    def arrived(self) -> float:
        """`time.monotonic()` at arrival, for the lag metric."""


class Inbox(Protocol):
    """What the batch collector drains: bounded by the transport."""

    def __len__(self) -> int: ...

    async def wait(self, timeout: float | None = None) -> bool:
        """Until a delivery is there (True) or the timeout passes (False)."""

    def take(self, limit: int) -> Sequence[Delivery]: ...


class IngestTransport(Protocol):
    name: str

    @property
    def inbox(self) -> Inbox: ...

    @property
    def connected(self) -> bool: ...

    @property
    def ready(self) -> bool:
        """Connected and subscribed (or bound to the consumer): messages published now reach us."""

    async def start(self) -> None: ...

    def reconfigure(self, config: StreamsConfig) -> None:
        """A reloaded streams.yaml (before `set_topics`)."""

    async def stop(self) -> None: ...

    async def set_topics(self, topics: Sequence[str]) -> None:
        """The MQTT topic filters to receive (a streams.yaml reload may change them)."""

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Their rows are committed: never deliver them again."""

    async def terminate(self, deliveries: Sequence[Delivery]) -> None:
        """Stored as dead letters: never deliver them again."""

    async def retry_later(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Not stored for a temporary reason: deliver them again later. Returns those that were
        on their last allowed delivery: the caller dead-letters and terminates them."""
