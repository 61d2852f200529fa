"""Shared replicas: the leader's alert engine evaluates everything any replica stored.

Each replica's ingest stores rows and sends `NOTIFY` (`commit_notify.py`); the leader's tail reads
rows stored after its high-water mark (`received_at`) with the store's catch-up queries, woken by
the notification or, at the latest, every `poll_s`. A transaction can commit after one with a
later `received_at` (two replicas, or a batch held while the database was away), so each read
looks back `overlap_s` (and further, to the earliest time a notification names); a bounded set
of the keys it already evaluated keeps any row from being evaluated twice.

It starts where the engine's start-up catch-up ended (the engine's cursor) and never reads below.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from server.alerts.catchup import PAGE, StoredSince
from server.alerts.commit_notify import CAMERA_CHANNEL, STORED_CHANNEL
from server.alerts.observations import CameraSample
from server.db.listener import PgListener
from server.store.records import StoredEvent
from server.tasks import cancel_until_done

if TYPE_CHECKING:
    from server.alerts.engine import AlertEngine

logger = logging.getLogger(__name__)

MAX_SEEN = 200_000


class SeenKeys:
    """Keys already evaluated, oldest first, at most `limit`; `evicted_recent` counts the keys
    forgotten while still inside the look-back window (those could be evaluated again)."""

    def __init__(self, limit: int = MAX_SEEN) -> None:
        self.limit = limit
        self._keys: OrderedDict[Hashable, datetime] = OrderedDict()
        self.evicted_recent = 0

    def __len__(self) -> int:
        return len(self._keys)

    def fresh(self, key: Hashable, received_at: datetime, window_start: datetime) -> bool:
        """True (and remembered) the first time `key` is seen."""
        if key in self._keys:
            return False
        self._keys[key] = received_at
        while len(self._keys) > self.limit:
            _, at = self._keys.popitem(last=False)
            if at >= window_start:
                self.evicted_recent += 1
        return True


class StoredTail:
    def __init__(
        self,
        engine: AlertEngine,
        stored: StoredSince,
        database_url: str,
        poll_s: float = 0.5,
        overlap_s: float = 5.0,
        seen_limit: int = MAX_SEEN,
    ) -> None:
        self.engine = engine
        self.stored = stored
        self.database_url = database_url
        self.poll_s = poll_s
        self.overlap = timedelta(seconds=overlap_s)
        now = engine.clock()
        self.floor_readings = self.high_readings = engine.cursor.readings or now
        self.floor_events = self.high_events = engine.cursor.events or now
        self.seen = SeenKeys(seen_limit)
        self.rows: dict[str, int] = {"readings": 0, "events": 0, "camera_status": 0}
        self._hint: datetime | None = None
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        handlers = {STORED_CHANNEL: self._stored, CAMERA_CHANNEL: self._camera}
        self._listener = PgListener(database_url, handlers, "alert-tail", self._reconnected)

    @property
    def listening(self) -> bool:
        return self._listener.listening

    @property
    def listener_failures(self) -> int:
        return self._listener.handler_failures

    def start(self) -> None:
        self._listener.start()
        self._task = asyncio.create_task(self._poll_forever(), name="alert-tail")

    async def stop(self) -> None:
        await self._listener.stop()
        if self._task is not None:
            await cancel_until_done(self._task)
            self._task = None

    # ----------------------------------------------------------------- reading

    async def poll(self) -> int:
        """Read and evaluate what was stored since the high-water marks (minus the look-back)."""
        hint, self._hint = self._hint, None
        try:
            readings = await self._poll_readings(hint)
            events = await self._poll_events(hint)
        except Exception:
            if hint is not None:  # kept for the next poll: the held batch is still to be read
                self._hinted(hint.isoformat())
            raise
        return readings + events

    def _since(self, floor: datetime, high: datetime, hint: datetime | None) -> datetime:
        since = high - self.overlap
        if hint is not None:
            since = min(since, hint - timedelta(microseconds=1))
        return max(floor, since)

    async def _poll_readings(self, hint: datetime | None) -> int:
        since = self._since(self.floor_readings, self.high_readings, hint)
        window = self.high_readings - self.overlap
        count, after = 0, None
        while page := await self.stored.readings_received_after(since, after, PAGE):
            fresh = [r for r in page if self.seen.fresh(("r", r.sensor_id, r.time), r.received_at, window)]
            if fresh:
                await self.engine.on_readings(fresh)
                count += len(fresh)
            self.high_readings = max(self.high_readings, page[-1].received_at)
            last = page[-1]
            after = (last.received_at, last.sensor_id, last.time)
            if len(page) < PAGE:
                break
        self.rows["readings"] += count
        return count

    async def _poll_events(self, hint: datetime | None) -> int:
        since = self._since(self.floor_events, self.high_events, hint)
        window = self.high_events - self.overlap
        count, after = 0, None
        while page := await self.stored.events_received_after(since, after, PAGE):
            fresh: list[StoredEvent] = [e for e in page if self.seen.fresh(("e", e.id), e.received_at, window)]
            if fresh:
                await self.engine.on_events(fresh)
                count += len(fresh)
            self.high_events = max(self.high_events, page[-1].received_at)
            after = (page[-1].received_at, page[-1].id)
            if len(page) < PAGE:
                break
        self.rows["events"] += count
        return count

    async def _poll_forever(self) -> None:
        failing = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.poll_s)
            self._woken.clear()
            try:
                await self.poll()
            except Exception:
                failing += 1
                if failing == 1:
                    logger.exception("alert tail: reading stored rows failed; retried every %ss", self.poll_s)
                continue
            if failing:
                logger.info("alert tail: reads stored rows again after %s failures", failing)
                failing = 0

    # ----------------------------------------------------------------- notifications

    def notified(self, channel: str, payload: str) -> None:
        if channel == STORED_CHANNEL:
            self._hinted(payload)
            self._woken.set()
        elif channel == CAMERA_CHANNEL:
            sample = camera_sample_of(payload)
            if sample is not None:
                self.rows["camera_status"] += 1
                task = asyncio.create_task(self.engine.observe([sample]), name="alert-tail-camera")
                task.add_done_callback(_log_failure)

    def _hinted(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(payload)
            self._hint = at if self._hint is None else min(self._hint, at)

    async def _stored(self, payload: str) -> None:
        self.notified(STORED_CHANNEL, payload)

    async def _camera(self, payload: str) -> None:
        self.notified(CAMERA_CHANNEL, payload)

    async def _reconnected(self) -> None:
        self._woken.set()  # anything stored while not listening


def camera_sample_of(payload: str) -> CameraSample | None:
    try:
        data: dict[str, Any] = json.loads(payload)
        return CameraSample(str(data["camera_id"]), str(data["state"]), datetime.fromisoformat(data["time"]))
    except (ValueError, KeyError, TypeError):
        logger.warning("alert tail: a camera status notification could not be read: %.200s", payload)
        return None


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("alert tail: a camera status was not evaluated", exc_info=task.exception())
