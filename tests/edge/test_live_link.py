"""`publish_live` on real sessions: sent while the link is idle; refused (never queued) while events
wait to be written to a frozen broker (SIGSTOP), so a live message never sits in front of them."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from contract.mqtturl import parse_mqtt_url
from edge.publish.jetstream import JetStreamLink, JetStreamLinkOptions
from edge.publish.link import LinkSession
from edge.publish.mqtt import MqttLink, MqttLinkOptions
from edge.publish.spool import SpooledMessage
from ioc.natsnode import NatsNode
from tests.fixtures.services import MosquittoBroker

pytestmark = pytest.mark.timeout(60)

BIG = b"x" * 200_000  # events with snapshots: a window of them fills the socket buffers at once


def events(prefix: str, count: int) -> list[SpooledMessage]:
    return [SpooledMessage(n + 1, f"{prefix}/cameras/c/events", BIG, f"e:{prefix}-{n}") for n in range(count)]


def refused_while_frozen(session: LinkSession, prefix: str, freeze: Any, thaw: Any) -> tuple[int, int]:
    """(live messages sent before the freeze, live messages refused while events wait)."""
    topic = f"live/{prefix}/cameras/c/detections"
    sent_before = sum(session.publish_live(topic, b'{"v":1}') for _ in range(20))
    freeze()
    sender = threading.Thread(target=session.send, args=(events(prefix, 60), 4.0), daemon=True)
    sender.start()
    try:
        time.sleep(1.0)  # the window is handed over and the socket buffers are full
        refused = sum(not session.publish_live(topic, b'{"v":1}') for _ in range(50))
    finally:
        thaw()
    sender.join(10)
    return sent_before, refused


def test_mqtt_live_messages_are_refused_while_events_wait_for_a_frozen_broker(
    private_broker: MosquittoBroker,
) -> None:
    prefix = "tlive"
    options = MqttLinkOptions("live-link-test", f"{prefix}/edge/w/status", b"offline")
    session = MqttLink(parse_mqtt_url(private_broker.url), options, 1000).open(5)
    process = private_broker._process
    assert process is not None
    try:
        sent, refused = refused_while_frozen(
            session,
            prefix,
            lambda: process.send_signal(signal.SIGSTOP),
            lambda: process.send_signal(signal.SIGCONT),
        )
    finally:
        session.close([], 1)
    assert sent == 20
    assert refused == 50


def test_core_nats_live_messages_are_refused_while_events_wait_for_a_frozen_server(nats_node: NatsNode) -> None:
    prefix = "tlive"
    session = JetStreamLink(JetStreamLinkOptions(nats_node.url, prefix)).open(5)
    pid = nats_node.pid
    assert pid is not None
    try:
        sent, refused = refused_while_frozen(
            session, prefix, lambda: os.kill(pid, signal.SIGSTOP), lambda: os.kill(pid, signal.SIGCONT)
        )
    finally:
        session.close([], 1)
    assert sent == 20
    assert refused == 50
