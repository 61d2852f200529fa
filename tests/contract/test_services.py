"""The service fixtures themselves: a real broker round trip and a real database."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import psycopg

from tests.fixtures.services import MosquittoBroker


def _round_trip(broker: MosquittoBroker, topic: str, publish: bool = True) -> bytes:
    received: list[bytes] = []
    done = threading.Event()

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append(message.payload)
        done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        if publish:
            client.publish(topic, b"hello", qos=1, retain=True).wait_for_publish(5)
        assert done.wait(5), "no message came back from the broker"
    finally:
        client.loop_stop()
        client.disconnect()
    return received[0]


def test_private_broker_round_trip_and_persistence(private_broker: MosquittoBroker, topic_prefix: str) -> None:
    topic = f"{topic_prefix}/ping"
    assert _round_trip(private_broker, topic) == b"hello"
    private_broker.stop()
    private_broker.start()
    # nothing is published now: the retained message must come from the broker's persistence file
    assert _round_trip(private_broker, topic, publish=False) == b"hello"


def test_fresh_database_is_empty_and_usable(pg_database: str) -> None:
    with psycopg.connect(pg_database) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (42)")
        assert conn.execute("SELECT x FROM t").fetchone() == (42,)
