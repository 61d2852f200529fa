"""The JetStream transport: events go straight into the stream (created if absent) with Nats-Msg-Id,
a spool row is deleted only after the stream's PubAck; kill -9 of the server during a burst, then a
restart: every event is in the stream exactly once (resends are de-duplicated by their ids)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from pathlib import Path

import nats

from contract.jetstream import MSG_ID_HEADER, STREAM_NAME
from edge.publish.jetstream import JetStreamLink, JetStreamLinkOptions
from edge.publish.sender import EventPublisher, SenderOptions
from edge.publish.spool import EventSpool
from ioc.natsnode import NatsNode
from tests.edge.test_sender_flaps import Burst, wait_until

OPTIONS = SenderOptions(
    window=500, ack_timeout_s=3.0, connect_timeout_s=2.0, reconnect_initial_s=0.1, reconnect_max_s=0.4
)


async def read_stream(url: str, subject: str) -> tuple[int, Counter[int], int]:
    """(messages in the stream, count per event number, messages that carried a Nats-Msg-Id)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info(STREAM_NAME)
    counts: Counter[int] = Counter()
    with_ids = 0
    subscription = await js.pull_subscribe(subject, durable=None)
    while sum(counts.values()) < info.state.messages:
        for message in await subscription.fetch(1000, timeout=5):
            counts[json.loads(message.data)["n"]] += 1
            with_ids += bool(message.headers and message.headers.get(MSG_ID_HEADER))
            await message.ack()
    await nc.close()
    return info.state.messages, counts, with_ids


def test_kill_9_of_nats_during_a_burst_leaves_every_event_in_the_stream_once(
    nats_node: NatsNode, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topic = f"{prefix}/cameras/c1/events"
    spool = EventSpool(tmp_path / "spool.sqlite3", 100_000)
    publisher = EventPublisher(JetStreamLink(JetStreamLinkOptions(nats_node.url, prefix)), spool, OPTIONS)
    backlog = 20_000  # an outage's worth: the kill lands while windows are in flight
    for n in range(backlog):
        spool.append(topic, json.dumps({"n": n}).encode(), f"e:ev-{n:08d}")
    with Burst(publisher, topic, rate=1500, start=backlog) as burst:
        publisher.start()
        assert wait_until(lambda: publisher.acknowledged >= 5000, 10)
        nats_node.kill()
        time.sleep(1.0)
        nats_node.start()
        time.sleep(1.5)
    sent = burst.count
    assert wait_until(lambda: spool.depth == 0, 30), f"{spool.depth} events still spooled: {publisher.health()}"
    health = publisher.health()
    stored, counts, with_ids = asyncio.run(read_stream(nats_node.url, f"{prefix}.cameras.*.events"))
    print(f"sent {sent}, stored {stored}, resent {health.resent}, {health}")
    assert health.alive and health.restarts >= 1  # resent: the window in flight at the kill, if any
    assert set(counts) == set(range(sent)) and stored == sent  # all there, none twice
    assert max(counts.values()) == 1 and with_ids == sent
    # a resend of already acknowledged events (same ids) is acknowledged and dropped by the stream
    for n in range(100):
        publisher.enqueue_event(topic, json.dumps({"n": n}).encode(), f"e:ev-{n:08d}")
    assert wait_until(lambda: spool.depth == 0, 10)
    assert asyncio.run(read_stream(nats_node.url, f"{prefix}.cameras.*.events"))[0] == sent
    publisher.stop([])
    spool.close()
