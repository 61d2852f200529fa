"""Shared replicas: every replica's ingest tells the leader's alert engine that rows were stored.

An `IngestObserver` (called after the ingest's commit) that sends `NOTIFY` on `STORED_CHANNEL`
with the earliest ingest time (`received_at`) of the batch, so the leader's tail (`tail.py`) reads
at once and looks back far enough for a batch committed late (held while the database was away).
Camera statuses are not in a table the tail reads: they travel in the notification itself
(`CAMERA_CHANNEL`). A failed notify is logged once with its recovery and counted; the tail's poll
still finds the rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from server.ingest.observers import NullObserver
from server.store.records import StoredCameraStatus, StoredEvent, StoredReading

logger = logging.getLogger(__name__)

STORED_CHANNEL = "ioc_stored"
CAMERA_CHANNEL = "ioc_camera_status"


def camera_status_message(status: StoredCameraStatus) -> str:
    return json.dumps({"camera_id": status.camera_id, "state": status.state, "time": status.time.isoformat()})


class CommitNotifier(NullObserver):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self.sent = 0
        self.failures = 0
        self._failing = False

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        if readings:
            await self._notify(STORED_CHANNEL, min(r.received_at for r in readings).isoformat())

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        if events:
            await self._notify(STORED_CHANNEL, min(e.received_at for e in events).isoformat())

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        await self._notify(CAMERA_CHANNEL, camera_status_message(status))

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        return None

    async def _notify(self, channel: str, payload: str) -> None:
        try:
            async with self._pool.connection() as conn:
                await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        except Exception as exc:
            self.failures += 1
            if not self._failing:
                self._failing = True
                logger.warning("replicas: NOTIFY %s failed (%s); the leader's poll finds the rows", channel, exc)
            return
        self.sent += 1
        if self._failing:
            self._failing = False
            logger.info("replicas: NOTIFY %s works again", channel)
