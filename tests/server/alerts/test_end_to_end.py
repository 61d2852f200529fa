"""End to end on real Mosquitto and PostgreSQL: a salinity series crossing 4‰ and back fires and
resolves exactly one alert, delivered once per state to the dashboard hub, MQTT and a signed
webhook, with a server restart in between."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.alerts.component import AlertComponent
from server.app import create_app
from tests.fixtures.services import MosquittoBroker
from tests.server.alerts.configs import STREAMS_HEAD
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import make_settings, running_app, wait_until

SECRET = "end-to-end-secret-0123456789"

STREAMS = (
    STREAMS_HEAD
    + """
channels:
  - {{id: responders, type: mqtt}}
  - {{id: hook, type: webhook, url: "http://127.0.0.1:{port}/hook", secret: "{secret}", max_attempts: 3}}
rules:
  - id: salinity-intrusion
    name: Salinity 4
    type: threshold
    sensors: [sal-1]
    raise: {{above: 4.0, for: 10m}}
    clear: {{below: 3.5, for: 30m}}
    severity: critical
    channels: [dashboard, responders, hook]
"""
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET)
    yield found
    found.close()


def publish(broker: MosquittoBroker, topic: str, payloads: list[dict[str, object]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    for payload in payloads:
        client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def series(start: datetime, values: list[float]) -> list[dict[str, object]]:
    return [{"value": v, "ts": (start + timedelta(minutes=5 * i)).isoformat()} for i, v in enumerate(values)]


def retained_states(broker: MosquittoBroker, topic: str) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)["state"]))
    client.connect(broker.host, broker.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    time.sleep(1.0)
    client.loop_stop()
    client.disconnect()
    return got


def component_of(app: object) -> AlertComponent:
    return next(c for c in app.state.ioc.components if isinstance(c, AlertComponent))  # type: ignore[attr-defined]


async def test_salinity_crossing_4_fires_and_resolves_once_across_a_restart(
    pg_database: str, mqtt_broker: MosquittoBroker, topic_prefix: str, receiver: Receiver, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix, port=receiver.port, secret=SECRET))
    settings = make_settings(pg_database, mqtt_broker.url, config)
    start = datetime.now(UTC) - timedelta(hours=3)
    topic = f"{topic_prefix}/sensors/sal-1"

    app = create_app(settings)
    async with running_app(settings, app) as client:
        feed = component_of(app).hub.subscribe()
        publish(mqtt_broker, topic, series(start, [3.0, 4.2, 4.4, 4.6, 4.5]))  # above 4 for 15 minutes
        await wait_until(lambda: _count(client, "firing"), timeout=15, what="a firing alert")
        first = [await feed.next() for _ in range(3)]
    assert [m["type"] for m in first if m] == ["snapshot", "alert", "alert"]
    assert [m["action"] for m in first[1:] if m] == ["pending", "firing"]

    app = create_app(settings)  # restart: the firing alert is restored, not fired again
    async with running_app(settings, app) as client:
        feed = component_of(app).hub.subscribe()
        snapshot = await feed.next()
        assert snapshot is not None and [a["state"] for a in snapshot["alerts"]] == ["firing"]
        later = start + timedelta(minutes=25)
        publish(mqtt_broker, topic, series(later, [4.7, 3.0, 3.1, 3.2, 3.0, 3.1, 3.2, 3.0]))  # 35 min below 3.5
        await wait_until(lambda: _count(client, "resolved"), timeout=15, what="the resolved alert")
        alerts = (await client.get("/api/alerts")).json()
        history = (await client.get(f"/api/alerts/{alerts[0]['id']}/history")).json()
        cap = await client.get(f"/api/alerts/{alerts[0]['id']}/cap")
        resolved = await feed.next()
        await component_of(app).engine.dispatcher.notifiers["hook"].drain(timeout=5)  # type: ignore[attr-defined]

    assert len(alerts) == 1 and alerts[0]["state"] == "resolved"
    assert [h["action"] for h in history] == ["pending", "firing", "resolved"]
    assert cap.status_code == 200 and b"AllClear" in cap.content
    assert resolved is not None and resolved["action"] == "resolved"
    events = [(body["event"], body["alert"]["id"]) for body in receiver.accepted]  # type: ignore[index]
    assert events == [("firing", alerts[0]["id"]), ("resolved", alerts[0]["id"])]
    assert receiver.bad_signatures == 0
    assert retained_states(mqtt_broker, f"{topic_prefix}/alerts/#") == [
        (f"{topic_prefix}/alerts/{alerts[0]['id']}", "resolved")
    ]


async def _count(client: object, state: str) -> bool:
    response = await client.get("/api/alerts", params={"state": state})  # type: ignore[attr-defined]
    return len(response.json()) == 1
