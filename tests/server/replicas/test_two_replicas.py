"""Two replicas in shared mode on one real PostgreSQL, a real local webhook receiver counting
deliveries: readings of one sensor stored by either replica raise exactly one alert per crossing
(evaluated once, by the leader, through its database tail); when the leader's lock connection
closes, the other takes over within a few seconds, and no alert is lost or repeated and no
outbox row delivered twice."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.store.records import StoredCameraStatus, StoredEvent
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import count_rows, wait_until
from tests.server.replicas.replicas import CAMERA_STREAMS, RETRY_S, SECRET, Replica, replica, replica_settings
from tests.server.test_metrics_exported import SHARED_REPLICAS_ONLY

logger = logging.getLogger(__name__)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


class Readings:
    """Salinity readings one second apart, each stored by the replica named."""

    def __init__(self) -> None:
        self.t0 = datetime.now(UTC) - timedelta(minutes=5)
        self.n = 0

    async def store(self, on: Replica, value: float, received_ago_s: float = 0.0) -> None:
        self.n += 1
        received_at = datetime.now(UTC) - timedelta(seconds=received_ago_s)
        await on.store("sal-1", self.t0 + timedelta(seconds=self.n), value, received_at)


def events_of(receiver: Receiver) -> list[object]:
    return [body["event"] for body in receiver.accepted]


async def _true(value: bool) -> bool:
    return value


async def test_readings_split_between_replicas_raise_one_alert_per_crossing(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """On plain PostgreSQL, then on TimescaleDB (the tail reads hypertables)."""
    pg_database = database_url
    settings = replica_settings(pg_database, tmp_path, receiver.url)
    async with replica("a", settings) as a, replica("b", settings) as b:
        assert (a.is_leader, b.is_leader) == (True, False)
        health_a, health_b = (await a.client.get("/health")).json(), (await b.client.get("/health")).json()
        assert (health_a["role"], health_a["alerts"]) == ("leader", "running")
        assert (health_b["role"], health_b["alerts"], health_b["status"]) == ("follower", "standby", "ok")
        assert not b.alerts.running and a.alerts.running
        running = [type(c).__name__ for c in a.services.leader_only.running]
        assert running == ["AlertComponent", "IncidentComponent", "RetentionLoop", "EvidenceRetention"]
        assert b.services.leader_only.running == ()  # neither the engine nor retention on the follower
        readings = Readings()
        for on, value in [(a, 3.0), (b, 5.0), (a, 5.2), (b, 4.8), (a, 3.0), (b, 2.9), (a, 5.5), (b, 6.0)]:
            await readings.store(on, value)
        await wait_until(lambda: _true(len(receiver.accepted) >= 3), timeout=10, what="three deliveries")
        await asyncio.sleep(0.5)  # anything repeated would arrive now
        assert events_of(receiver) == ["firing", "resolved", "firing"]
        assert len(set(receiver.attempts)) == len(receiver.attempts) == 3
        assert await count_rows(pg_database, "SELECT count(*) FROM alerts") == 2
        assert await count_rows(pg_database, "SELECT count(*) FROM alerts WHERE state = 'firing'") == 1
        tail = a.alerts.tail
        assert tail is not None and tail.rows["readings"] == 8 and tail.listening
        metrics_a, metrics_b = (await a.client.get("/metrics")).text, (await b.client.get("/metrics")).text
    assert "ioc_leader 1.0" in metrics_a and "ioc_leader 0.0" in metrics_b
    assert 'ioc_replica_tail_rows_total{kind="readings"} 8.0' in metrics_a
    replica_families = {f.name for f in text_string_to_metric_families(metrics_a) if f.name.startswith("ioc_replica_")}
    assert replica_families == set(SHARED_REPLICAS_ONLY)  # each with its owner in the metrics test
    for metrics in (metrics_a, metrics_b):
        assert "ioc_replica_notify_failures_total 0.0" in metrics
        assert "ioc_replica_listener_failures_total 0.0" in metrics
        assert "ioc_replica_tail_keys_evicted_total 0.0" in metrics


async def test_the_follower_takes_over_when_the_leader_lock_connection_closes(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = replica_settings(pg_database, tmp_path, receiver.url)
    async with replica("a", settings) as a, replica("b", settings) as b:
        readings = Readings()
        await readings.store(a, 3.0)
        await readings.store(b, 5.0)
        await wait_until(lambda: _true(events_of(receiver) == ["firing"]), timeout=10, what="the first firing")

        cut = time.monotonic()
        await a.drop_lock_connection()  # what a crash or a network cut does to the leader
        await readings.store(a, 3.0)  # stored during the handover, by the replica stepping down
        await wait_until(lambda: _true(b.alerts.running), timeout=10, what="the follower taking over")
        takeover = time.monotonic() - cut
        await wait_until(lambda: _true(not a.alerts.running), timeout=10, what="the old leader stepping down")
        await readings.store(a, 5.0)  # the new leader evaluates what the old one stores
        await readings.store(b, 5.1)
        await wait_until(lambda: _true(len(receiver.accepted) >= 3), timeout=10, what="three deliveries")
        await asyncio.sleep(0.5)
        logger.warning("failover: the follower ran the alert engine %.2fs after the lock connection closed", takeover)
        assert takeover < RETRY_S * 10
        assert events_of(receiver) == ["firing", "resolved", "firing"]
        assert len(set(receiver.attempts)) == len(receiver.attempts) == 3  # no row delivered twice
        assert await count_rows(pg_database, "SELECT count(*) FROM alerts") == 2
        assert await count_rows(pg_database, "SELECT count(*) FROM alert_outbox WHERE state = 'pending'") == 0
        assert (await b.client.get("/health")).json()["role"] == "leader"


async def test_rows_committed_out_of_received_order_are_evaluated_once(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    """A transaction committing after one with a later ingest time (inside the look-back window),
    and a batch held far longer (a database outage) found through its notification's time."""
    settings = replica_settings(pg_database, tmp_path, receiver.url)
    async with replica("a", settings) as a, replica("b", settings) as b:
        tail = a.alerts.tail
        assert tail is not None
        tail.floor_readings -= timedelta(minutes=10)  # a leader running for a while (it never reads below its start)
        readings = Readings()
        await readings.store(b, 5.0)
        await wait_until(lambda: _true(events_of(receiver) == ["firing"]), timeout=10, what="the firing")
        await readings.store(a, 3.0, received_ago_s=2)  # received before the last one, committed after
        await wait_until(lambda: _true(len(receiver.accepted) == 2), timeout=10, what="the resolve")
        await readings.store(b, 5.0, received_ago_s=120)  # held two minutes, far outside the look-back
        await wait_until(lambda: _true(len(receiver.accepted) == 3), timeout=10, what="the second firing")
        await asyncio.sleep(1.0)  # several polls re-read the look-back window: nothing is evaluated again
        assert tail.rows["readings"] == 3 and tail.seen.evicted_recent == 0
        assert events_of(receiver) == ["firing", "resolved", "firing"]
        assert await count_rows(pg_database, "SELECT count(*) FROM alert_history") == 3


async def test_events_and_camera_statuses_stored_by_the_follower_are_evaluated_by_the_leader(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = replica_settings(pg_database, tmp_path, receiver.url, CAMERA_STREAMS)
    async with replica("a", settings) as a, replica("b", settings) as b:
        now = datetime.now(UTC)
        entered = StoredEvent("ev-1", "gate", now, "zone_enter", now, zone="entrance", track_id=7, label="person")
        await b.store_event(entered)
        await b.store_event(entered)  # a redelivery: not a new row, not evaluated again
        await wait_until(lambda: _true(len(receiver.accepted) == 1), timeout=10, what="the intrusion alert")
        await b.store_camera_status(StoredCameraStatus("gate", "edge-1", "offline", now, now))  # in the NOTIFY
        await wait_until(lambda: _true(len(receiver.accepted) == 2), timeout=10, what="the camera-offline alert")
        await asyncio.sleep(0.5)
        rules = [body["alert"]["rule_id"] for body in receiver.accepted]  # type: ignore[index]
        assert rules == ["intrusion", "gate-offline"] and events_of(receiver) == ["firing", "firing"]
        tail = a.alerts.tail
        assert tail is not None and tail.rows["events"] == 1 and tail.rows["camera_status"] == 1


async def test_a_delivery_retrying_on_the_old_leader_is_finished_once_by_the_new_one(
    pg_database: str, tmp_path: Path
) -> None:
    refusing = Receiver(SECRET, status=503)
    try:
        settings = replica_settings(pg_database, tmp_path, refusing.url).model_copy(
            update={"outbox_claim_lease_s": 1.5}
        )
        async with replica("a", settings) as a, replica("b", settings) as b:
            await Readings().store(b, 5.0)
            retrying = "SELECT count(*) FROM alert_outbox WHERE state = 'pending' AND attempts >= 1"
            await wait_until(lambda: _count(pg_database, retrying, 1), timeout=10, what="a refused first attempt")
            await a.drop_lock_connection()  # the leader goes during the retry backoff
            await wait_until(lambda: _true(b.alerts.running and not a.alerts.running), 10, "the takeover")
            refusing.status = 204
            await wait_until(lambda: _true(len(refusing.accepted) == 1), timeout=15, what="the delivery by b")
            await asyncio.sleep(1.0)  # a second delivery would arrive now
            assert len(refusing.accepted) == 1 and len(set(refusing.attempts)) == 1  # one delivery id throughout
            delivered = "SELECT count(*) FROM alert_outbox WHERE state = 'delivered'"
            await wait_until(lambda: _count(pg_database, delivered, 1), timeout=5, what="the row marked delivered")
    finally:
        refusing.close()


async def _count(database_url: str, query: str, expected: int) -> bool:
    return await count_rows(database_url, query) == expected
