"""The storage protocol the ingest and the API depend on; PostgreSQL implements it in `pg.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from server.store.records import StoredCameraStatus, StoredDeadLetter, StoredEvent, StoredReading, StoredSnapshot


class StoreError(Exception):
    """Base of storage errors.

    StoreError
     ├── StoreUnavailableError   temporary: the database cannot be reached; retry later
     └── StoreRejectedError      permanent: the data itself was refused (a bug or a schema mismatch)
    """


class StoreUnavailableError(StoreError):
    pass


class StoreRejectedError(StoreError):
    pass


@dataclass
class WriteBatch:
    """Everything one group of MQTT messages produced; written in one transaction."""

    readings: list[StoredReading] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)
    snapshots: list[StoredSnapshot] = field(default_factory=list)
    camera_statuses: list[StoredCameraStatus] = field(default_factory=list)
    edge_statuses: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[StoredDeadLetter] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.readings)
            + len(self.events)
            + len(self.camera_statuses)
            + len(self.edge_statuses)
            + len(self.dead_letters)
        )


@dataclass(frozen=True)
class WriteResult:
    """What was new (redeliveries excluded)."""

    readings: list[StoredReading]
    events: list[StoredEvent]


@dataclass(frozen=True)
class Bucket:
    time: datetime
    min: float
    max: float
    avg: float
    count: int
    last: float


@dataclass(frozen=True)
class EventQuery:
    camera_id: str | None = None
    label: str | None = None
    zone: str | None = None
    line: str | None = None
    kind: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100
    before: tuple[datetime, str] | None = None  # keyset cursor: (time, id) of the last row seen
    cameras: frozenset[str] | None = None  # a scoped caller's cameras (None: all), applied before the limit


@dataclass(frozen=True, slots=True)
class DeadLetterScope:
    """The dead letters a scoped caller sees: those of its sensors (by sensor id) or received on a
    topic of its sensors or cameras; a letter attributable to no site is outside every scope."""

    sensor_ids: frozenset[str]
    topics: frozenset[str]


class Store(Protocol):
    async def write(self, batch: WriteBatch) -> WriteResult: ...

    async def readings_raw(self, sensor_id: str, start: datetime, end: datetime, limit: int) -> list[StoredReading]: ...

    async def readings_flagged(
        self, sensor_id: str, start: datetime, end: datetime, limit: int
    ) -> list[StoredReading]: ...

    async def readings_bucketed(
        self, sensor_id: str, start: datetime, end: datetime, bucket: timedelta
    ) -> list[Bucket]: ...

    async def latest_readings(self, sensor_ids: Sequence[str]) -> dict[str, StoredReading]: ...

    async def events(self, query: EventQuery) -> list[StoredEvent]: ...

    async def event(self, event_id: str) -> StoredEvent | None: ...

    async def snapshot(self, sha256: str) -> StoredSnapshot | None: ...

    async def camera_statuses(self) -> dict[str, StoredCameraStatus]: ...

    async def dead_letters(
        self, reason: str | None, limit: int, before_id: int | None, scope: DeadLetterScope | None = None
    ) -> list[tuple[int, StoredDeadLetter]]: ...

    async def event_counts(
        self,
        camera_id: str | None,
        start: datetime,
        end: datetime,
        bucket: timedelta,
        group: str,
        cameras: frozenset[str] | None = None,
    ) -> list[tuple[datetime, str, str, int]]: ...
