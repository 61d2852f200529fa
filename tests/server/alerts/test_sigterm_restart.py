"""The real process (`ioc server`, real Mosquitto, PostgreSQL and a local HTTP receiver): a
reading over MQTT fires an alert, the webhook answers 503, the server gets SIGTERM during the
retry backoff; after the restart the receiver gets the alert, with the log line saying so."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server_process import server_process
from tests.fixtures.services import MosquittoBroker, free_port
from tests.server.alerts.configs import STREAMS_HEAD
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import Publisher, count_rows, wait_until

SECRET = "sigterm-restart-secret-0123456789"
STREAMS = (
    STREAMS_HEAD
    + """
channels:
  - {{id: hook, type: webhook, url: "{url}", secret: "{secret}", max_attempts: 8}}
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    channels: [dashboard, hook]
"""
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=503)
    yield found
    found.close()


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"the server is not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


def terminate(process: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, then a graceful exit (uvicorn re-raises the signal once its shutdown is complete)."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert log.read_text().rstrip().endswith(f"Finished server process [{process.pid}]")


async def test_sigterm_during_the_webhook_backoff_then_delivered_after_the_restart(
    pg_database: str, mqtt_broker: MosquittoBroker, topic_prefix: str, receiver: Receiver, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix, url=receiver.url, secret=SECRET))
    port, log = free_port(), tmp_path / "server.log"
    env = {
        **os.environ,
        "IOC_DATABASE_URL": pg_database,
        "IOC_MQTT_URL": mqtt_broker.url,
        "IOC_CONFIG": str(config),
        "IOC_HOST": "127.0.0.1",
        "IOC_PORT": str(port),
        "IOC_MQTT_CLIENT_ID": f"sigterm-{uuid.uuid4().hex[:8]}",
    }
    pending = "SELECT count(*) FROM alert_outbox WHERE state = 'pending' AND attempts >= 1"
    with server_process(env, log) as process:
        wait_healthy(f"http://127.0.0.1:{port}", process, log)
        publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
        try:

            async def refused_once() -> bool:
                reading = json.dumps({"value": 5.0, "ts": datetime.now(UTC).isoformat()})
                publisher.publish_all([(f"{topic_prefix}/sensors/sal-1", reading)])
                return await count_rows(pg_database, pending) == 1

            await wait_until(refused_once, timeout=30, what="a webhook attempt refused and recorded")
        finally:
            publisher.close()
        terminate(process, log)
    refused = len(receiver.attempts)
    assert refused >= 1 and await count_rows(pg_database, "SELECT count(*) FROM alert_outbox") == 1
    receiver.status = 204

    with server_process(env, log) as process:
        wait_healthy(f"http://127.0.0.1:{port}", process, log)

        async def delivered() -> bool:
            return len(receiver.accepted) == 1

        await wait_until(delivered, timeout=30, what="the alert at the receiver after the restart")
        terminate(process, log)
    assert receiver.accepted[0]["event"] == "firing" and receiver.bad_signatures == 0
    assert len(set(receiver.attempts)) == 1  # the same delivery id before and after the restart
    assert await count_rows(pg_database, "SELECT count(*) FROM alert_outbox WHERE state = 'delivered'") == 1
    assert "resuming 1 pending alert deliveries (hook)" in log.read_text()
