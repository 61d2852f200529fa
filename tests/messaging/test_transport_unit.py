"""Pure pieces of the transports: subjects for the stream and consumer, the MQTT retry inbox,
the bounded asyncio inbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from server.ingest.buffer import Inbound, InboundBuffer
from server.ingest.inbox import AsyncInbox, InboxFullError
from server.ingest.jetstream import filter_subjects, stream_subjects
from server.ingest.mqtt_transport import RetryInbox, split_topics
from server.metrics import Metrics


def test_consumer_filters_and_stream_subjects_from_topic_filters() -> None:
    topics = ["ioc/sensors/+", "ioc/gateways/+", "ioc-ext/rain", "ioc/cameras/+/status", "ioc/sensors/+"]
    subjects = filter_subjects(topics)
    assert subjects == ["ioc.sensors.*", "ioc.gateways.*", "ioc-ext.rain", "ioc.cameras.*.status"]
    assert stream_subjects("ioc", subjects) == ["ioc.>", "ioc-ext.rain"]  # no subject twice, none overlapping
    assert stream_subjects("city/north", filter_subjects(["city/north/sensors/+"])) == ["city.north.>"]


def test_status_topics_never_go_through_the_shared_group() -> None:
    shared, plain = split_topics("g", ["ioc/sensors/+", "ioc/cameras/+/status"])
    assert shared == ["$share/g/ioc/sensors/+"] and plain == ["ioc/cameras/+/status"]
    assert split_topics(None, ["ioc/sensors/+"]) == (["ioc/sensors/+"], [])


def _inbound(mid: int) -> Inbound:
    return Inbound("t", b"1", mid, 1, 1, datetime.now(UTC), 0.0)


async def test_messages_handed_back_come_first_in_their_order() -> None:
    buffer = InboundBuffer(asyncio.get_running_loop(), capacity=10, metrics=Metrics())
    inbox = RetryInbox(buffer)
    for mid in (3, 4):
        buffer.put(_inbound(mid))
    inbox.put_back([_inbound(1), _inbound(2)])
    assert len(inbox) == 4
    assert await inbox.wait(0.1)
    assert [item.mid for item in inbox.take(3)] == [1, 2, 3]
    assert [item.mid for item in inbox.take(3)] == [4]


async def test_async_inbox_is_bounded_and_wakes_its_reader() -> None:
    inbox: AsyncInbox[int] = AsyncInbox(3)
    assert not await inbox.wait(0.01)
    waiter = asyncio.create_task(inbox.wait(2))
    await asyncio.sleep(0)
    inbox.extend([1, 2])
    assert await waiter
    inbox.append(3)
    with pytest.raises(InboxFullError):
        inbox.append(4)
    assert inbox.take(10) == [1, 2, 3]
