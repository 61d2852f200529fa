"""Two real `ioc server` processes in shared mode (real Mosquitto with an MQTT 5 shared
subscription splitting the readings between their ingests, real PostgreSQL, a local webhook
receiver): one alert per crossing whichever replica stored the reading; SIGKILL the leader and the
other takes over (measured), and the crossings after it still raise exactly one alert each, every
delivery id received once."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from server.auth.roles import Role
from server.auth.store import AuthStore
from server.auth.tokens import new_api_key
from tests.fixtures.server_process import server_process
from tests.fixtures.services import MosquittoBroker, free_port
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import Publisher, count_rows, wait_until
from tests.server.replicas.replicas import SECRET, STREAMS

logger = logging.getLogger(__name__)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


def health(port: int) -> dict[str, object] | None:
    with contextlib.suppress(httpx.HTTPError):
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        if answer.status_code == 200:
            body: dict[str, object] = answer.json()
            return body
    return None


def wait_role(port: int, role: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert process.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
        body = health(port)
        if body is not None and body["role"] == role and body["mqtt"] == "connected":
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"no {role} on port {port} after {timeout}s:\n{log.read_text()[-3000:]}")


async def admin_headers(database_url: str) -> dict[str, str]:
    """An admin API key made through the auth store (the processes share the database)."""
    fresh = new_api_key()
    async with AsyncConnectionPool(database_url, min_size=1, max_size=1, open=False) as pool:
        await AuthStore(pool).create_api_key(
            f"test-{uuid.uuid4().hex[:8]}", fresh.prefix, fresh.sha256, Role.ADMIN, None
        )
    return {"X-API-Key": fresh.key}


def ingested(port: int, headers: dict[str, str]) -> float:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=5)
    assert answer.status_code == 200, answer.text
    return sum(
        float(line.split()[-1]) for line in answer.text.splitlines() if line.startswith("ioc_ingest_messages_total")
    )


def environment(database_url: str, broker: MosquittoBroker, config: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "IOC_DATABASE_URL": database_url,
        "IOC_MQTT_URL": broker.url,
        "IOC_CONFIG": str(config),
        "IOC_HOST": "127.0.0.1",
        "IOC_PORT": str(port),
        "IOC_MQTT_CLIENT_ID": f"replica-{uuid.uuid4().hex[:8]}",
        "IOC_REPLICA_MODE": "shared",
        "IOC_LEADER_RETRY_S": "0.5",
        # Mosquitto 2.0 keeps routing a shared group's messages to a dead member's persistent
        # session (until it is back): without one, the survivor gets them all after the kill
        "IOC_MQTT_SESSION_EXPIRY_S": "0",
    }


class Crossings:
    """Salinity readings of sal-1 alternating above and below the threshold, published one by one."""

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self.publisher, self.topic = publisher, topic
        self.t0 = datetime.now(UTC) - timedelta(minutes=10)
        self.n = 0

    def publish(self, values: list[float]) -> None:
        for value in values:
            self.n += 1
            at = (self.t0 + timedelta(seconds=self.n)).isoformat()
            self.publisher.publish_all([(self.topic, json.dumps({"value": value, "ts": at}))])
            time.sleep(0.25)  # a sensor's readings arrive apart, not in one burst


@pytest.mark.slow
async def test_two_server_processes_share_the_work_and_survive_a_sigkill_of_the_leader(
    pg_database: str, mqtt_broker: MosquittoBroker, topic_prefix: str, receiver: Receiver, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    text = STREAMS.format(prefix=topic_prefix, url=receiver.url, secret=SECRET)
    config.write_text(text.replace("shared_group: null", f"shared_group: g-{topic_prefix}"))
    port_a, port_b = free_port(), free_port()
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
    crossings = Crossings(publisher, f"{topic_prefix}/sensors/sal-1")
    env_a = environment(pg_database, mqtt_broker, config, port_a)
    try:
        with server_process(env_a, log_a) as a:
            wait_role(port_a, "leader", a, log_a)
            with server_process(environment(pg_database, mqtt_broker, config, port_b), log_b) as b:
                wait_role(port_b, "follower", b, log_b)
                crossings.publish([3.0, 5.0, 5.2, 3.0, 2.8, 5.5, 6.0, 3.1] * 2)  # 4 alerts: 8 deliveries
                await wait_until(lambda: _true(len(receiver.accepted) >= 8), 30, "eight deliveries")
                headers = await admin_headers(pg_database)
                split = (ingested(port_a, headers), ingested(port_b, headers))
                assert min(split) > 0, split  # both ingests stored readings

                a.send_signal(signal.SIGKILL)
                a.wait(timeout=10)
                takeover = wait_role(port_b, "leader", b, log_b, timeout=30)
                logger.warning("failover after SIGKILL of the leader: %.2fs until the follower led", takeover)
                crossings.publish([5.0, 3.0, 5.1, 3.0])  # 2 alerts after the takeover: 4 deliveries
                await wait_until(lambda: _true(len(receiver.accepted) >= 12), 30, "twelve deliveries")
                with server_process(env_a, log_a) as again:  # the killed replica comes back as a follower
                    wait_role(port_a, "follower", again, log_a)
                    assert (health(port_b) or {}).get("role") == "leader"
                    time.sleep(1.0)  # anything repeated would arrive now
    finally:
        publisher.close()
    events = [body["event"] for body in receiver.accepted]
    assert events == ["firing", "resolved"] * 6, events
    assert len(set(receiver.attempts)) == len(receiver.attempts) == 12 and receiver.bad_signatures == 0
    assert await count_rows(pg_database, "SELECT count(*) FROM alerts") == 6
    assert await count_rows(pg_database, "SELECT count(*) FROM readings") == 20
    assert takeover < 5.0


async def _true(value: bool) -> bool:
    return value
