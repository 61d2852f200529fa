"""The JetStream half of bench/ingest.py: a private nats-server, native publishers (nats-py,
`Nats-Msg-Id`), the bare pull-consumer baseline, and the replicas speed-up on a paused consumer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats

from contract.jetstream import INGEST_DURABLE, MSG_ID_HEADER, STREAM_NAME, subject_of
from ioc.natsnode import NatsNode

Native = tuple[str, bytes, str]
"""(subject, payload, Nats-Msg-Id)"""


@contextmanager
def nats_node(workdir: Path) -> Iterator[NatsNode]:
    node = NatsNode(workdir / "nats", name="bench")
    node.start()
    node.wait_jetstream()
    try:
        yield node
    finally:
        node.stop()


def as_native(payloads: Sequence[tuple[str, bytes]], tag: str) -> list[Native]:
    return [(subject_of(topic), payload, f"{tag}:{i}") for i, (topic, payload) in enumerate(payloads)]


async def _publish(servers: list[str], messages: Sequence[Native], window: int) -> None:
    nc = await nats.connect(servers=servers)
    js = nc.jetstream(timeout=30, publish_async_max_pending=window)
    futures = []
    for subject, payload, msg_id in messages:
        futures.append(await js.publish_async(subject, payload, headers={MSG_ID_HEADER: msg_id}, wait_stall=30))
        if len(futures) >= window:
            await asyncio.gather(*futures)
            futures.clear()
    await asyncio.gather(*futures)
    await nc.close()


def publish_native(servers: list[str], messages: Sequence[Native], window: int = 4000) -> None:
    """Publish all and wait for every PubAck from the stream."""
    asyncio.run(_publish(servers, messages, window))


async def _consumer(servers: list[str], pause: bool) -> None:
    nc = await nats.connect(servers=servers)
    jsm = nc.jetstream()
    if pause:
        until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await jsm.pause_consumer(STREAM_NAME, INGEST_DURABLE, until)
    else:
        await jsm.resume_consumer(STREAM_NAME, INGEST_DURABLE)
    await nc.close()


def pause_ingest(servers: list[str]) -> None:
    asyncio.run(_consumer(servers, pause=True))


def resume_ingest(servers: list[str]) -> None:
    asyncio.run(_consumer(servers, pause=False))


CEILING = """
import asyncio, json, resource, sys, time, nats
async def main():
    url, n = sys.argv[1], int(sys.argv[2])
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe("ceiling.>", durable="ceiling", stream="CEILING")
    got, t0, c0 = 0, 0.0, 0.0
    while got < n:
        try:
            msgs = await sub.fetch(500, timeout=2)
        except nats.errors.TimeoutError:
            continue
        if not got:
            t0 = time.perf_counter()
            r = resource.getrusage(resource.RUSAGE_SELF); c0 = r.ru_utime + r.ru_stime
        for m in msgs:
            json.loads(m.data)
            await m.ack()
        got += len(msgs)
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(n / (time.perf_counter() - t0), (r.ru_utime + r.ru_stime - c0) / n * 1e6, flush=True)
    await nc.close()
asyncio.run(main())
"""


async def _make_ceiling_stream(url: str) -> None:
    nc = await nats.connect(url)
    await nc.jetstream().add_stream(name="CEILING", subjects=["ceiling.>"])
    await nc.close()


def nats_ceiling(node: NatsNode, payloads: Sequence[tuple[str, bytes]]) -> tuple[float, float]:
    """A bare nats-py pull consumer (own process: fetch 500, JSON parse, ack each) draining a
    pre-filled stream: (messages/s, CPU µs per message of the consumer)."""
    asyncio.run(_make_ceiling_stream(node.url))
    messages = [(f"ceiling.{i % 500}", payload, f"c:{i}") for i, (_, payload) in enumerate(payloads)]
    publish_native([node.url], messages)
    result = subprocess.run(
        [sys.executable, "-c", CEILING, node.url, str(len(messages))],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    rate, cpu = result.stdout.split()
    return float(rate), float(cpu)
