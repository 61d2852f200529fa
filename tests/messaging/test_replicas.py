"""Two server replicas share the durable consumer: `kill -9` one mid-stream and the other takes
over what it had not acknowledged; every reading stored exactly once, and both did part of it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from ioc.natsnode import NatsNode
from ioc.netutil import free_port
from server.app import create_app
from tests.messaging.helpers import NativePublisher, assert_exactly_once, jetstream_settings, readings, wait_rows
from tests.server.helpers import running_app, wait_until, write_streams

TOTAL = 8000


def start_replica(settings_env: dict[str, str], streams: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", "server", "--config", str(streams), "--port", str(port)],
            env={**os.environ, **settings_env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def committed(metrics: str) -> float:
    match = re.search(r'^ioc_ingest_messages_total\{kind="all"\} ([0-9.e+]+)$', metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_replica_killed_mid_stream(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, streams, batch_max_rows=200)
    port = free_port()
    env = {
        "IOC_DATABASE_URL": pg_database,
        "IOC_TRANSPORT": "jetstream",
        "IOC_NATS_URL": nats_node.url,
        "IOC_MQTT_URL": nats_node.mqtt_url,
        "IOC_MQTT_PROTOCOL": "3.1.1",
        "IOC_MQTT_CLIENT_ID": "replica-b",
        "IOC_NATS_ACK_WAIT_S": "5",
        "IOC_BATCH_MAX_ROWS": "200",
        "PYTHONPATH": os.getcwd(),
    }
    app = create_app(settings)
    async with running_app(settings, app) as client:
        replica = start_replica(env, streams, port, tmp_path / "replica-b.log")
        b_committed = 0.0
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=client.headers) as other:

                async def b_ready() -> bool:
                    try:
                        return (await other.get("/health")).status_code == 200
                    except httpx.HTTPError:
                        return False

                await wait_until(b_ready, 60, "replica B healthy")
                async with NativePublisher([nats_node.url]) as publisher:
                    publishing = asyncio.create_task(publisher.publish_all(readings(topic_prefix, TOTAL)))

                    async def b_working() -> bool:
                        nonlocal b_committed
                        b_committed = committed((await other.get("/metrics")).text)
                        return b_committed >= 500

                    await wait_until(b_working, 60, "replica B committing")
                    replica.kill()  # SIGKILL: what B held unacked comes back after ack_wait
                    replica.wait(10)
                    await publishing
            await wait_rows(pg_database, TOTAL, 60)
            await assert_exactly_once(pg_database, TOTAL)
            a_committed = app.state.ioc.ingest.committed_messages
            assert a_committed > 0 and b_committed > 0  # (B's count is the last one scraped before its death)
        finally:
            if replica.poll() is None:
                replica.kill()
                replica.wait(10)
