"""The ingest supervisor: an exception in the pipeline restarts the task with backoff, /health
reports `restarting` meanwhile, the failure and the recovery are each logged once, and nothing
is lost. The transport is an in-memory double (the seam's test implementation); the store is
the real PostgreSQL one."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from contract.config import StreamsConfig
from contract.config.loader import load_config
from server.db.migrate import migrate
from server.db.pool import create_pool
from server.db.timescale import detect_features
from server.ingest.inbox import AsyncInbox
from server.ingest.observers import ObserverFanout
from server.ingest.service import IngestService
from server.ingest.transport import Delivery
from server.metrics import Metrics
from server.store.pg import PgStore
from tests.server.helpers import count_rows, make_settings, wait_until, write_streams


class MemoryDelivery:
    def __init__(self, topic: str, payload: bytes) -> None:
        self.topic, self.payload = topic, payload
        self.received_at = datetime.now(UTC)
        self.arrived = 0.0


class FlakyAckTransport:
    """Delivers what a test puts in; its first `failures` acks raise (a connection lost mid-ack)."""

    name = "memory"

    def __init__(self, failures: int) -> None:
        self.inbox: AsyncInbox[MemoryDelivery] = AsyncInbox(100_000)
        self.failures = failures
        self.acked: list[Delivery] = []
        self.connected = self.ready = True

    def put(self, deliveries: Sequence[MemoryDelivery]) -> None:
        self.inbox.extend(deliveries)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def reconfigure(self, config: StreamsConfig) -> None: ...

    async def set_topics(self, topics: Sequence[str]) -> None: ...

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection lost while acknowledging")
        self.acked.extend(deliveries)

    async def terminate(self, deliveries: Sequence[Delivery]) -> None:
        await self.ack(deliveries)

    async def retry_later(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        self.inbox.extend(d for d in deliveries if isinstance(d, MemoryDelivery))
        return []


def reading(prefix: str, second: int) -> MemoryDelivery:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1) + timedelta(seconds=second)
    return MemoryDelivery(f"{prefix}/sensors/sal-1", json.dumps({"value": 1.5, "ts": at.isoformat()}).encode())


async def test_a_failing_task_is_restarted_and_logged_once(
    pg_database: str, topic_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await migrate(pg_database)
    settings = make_settings(pg_database, "mqtt://127.0.0.1:1", write_streams(tmp_path, topic_prefix))
    pool = create_pool(settings)
    await pool.open()
    async with await psycopg.AsyncConnection.connect(pg_database) as conn:
        features = await detect_features(conn)
    transport = FlakyAckTransport(failures=3)
    metrics = Metrics()
    service = IngestService(
        settings, load_config(settings.config), PgStore(pool, features), metrics, ObserverFanout([]), transport
    )
    caplog.set_level(logging.INFO, logger="server.ingest.supervisor")
    await service.start()
    try:
        transport.put([reading(topic_prefix, 0)])

        async def restarting() -> bool:
            return service.state == "restarting"

        await wait_until(restarting, 5, "ingest restarting after the first failure")
        for second in range(1, 40):  # one message a batch until the acks work again
            transport.put([reading(topic_prefix, second)])
            await asyncio.sleep(0.05)

        async def all_stored() -> bool:
            return await count_rows(pg_database, "SELECT count(*) FROM readings") == 40

        await wait_until(all_stored, 30, "every reading stored")

        async def recovered() -> bool:
            return service.state == "running" and len(transport.acked) > 0

        await wait_until(recovered, 10, "ingest running again")
    finally:
        await service.stop()
        await pool.close()
    assert metrics.registry.get_sample_value("ioc_ingest_restarts_total", {"task": "ingest-write"}) == 3
    failures = [r for r in caplog.records if r.levelno == logging.ERROR and "ingest-write failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None  # once, with the traceback
    recoveries = [r for r in caplog.records if "recovered after 3 failures" in r.getMessage()]
    assert len(recoveries) == 1
