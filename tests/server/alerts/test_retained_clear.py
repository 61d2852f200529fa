"""Resolved alerts' retained MQTT messages are cleared once `clear_resolved_after` has passed
(real Mosquitto; PostgreSQL for the restart); firing alerts stay retained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract.config.channels import MqttChannel
from server.alerts.core import RuleEngine
from server.alerts.model import AlertChange
from server.alerts.observations import SensorSample
from server.app import create_app
from server.notify.mqtt import MqttNotifier
from server.notify.retained import MemoryRetainedStore
from tests.fixtures.services import MosquittoBroker
from tests.server.alerts.configs import SALINITY_4, STREAMS_HEAD, at, delivery_of, make_config, rule
from tests.server.alerts.mqttwatch import retained
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until

QUICK = rule(SALINITY_4, **{"raise": {"above": 4.0}, "clear": {"below": 3.5}}, channels=["responders"])
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def fire_and_resolve() -> tuple[AlertChange, AlertChange, AlertChange]:
    """sal-a fires and resolves; sal-b fires and stays firing."""
    engine = RuleEngine(make_config([QUICK]))
    fired_a = engine.observe(SensorSample("sal-a", 5.0, at(0)))[0]
    fired_b = engine.observe(SensorSample("sal-b", 5.0, at(0)))[0]
    resolved_a = engine.observe(SensorSample("sal-a", 1.0, at(1)))[0]
    return fired_a, fired_b, resolved_a


def notifier(broker: MosquittoBroker, prefix: str, clock: Clock, store: MemoryRetainedStore) -> MqttNotifier:
    channel = MqttChannel(id="responders", type="mqtt", clear_resolved_after=timedelta(hours=1))
    return MqttNotifier(channel, broker.url, prefix, f"{prefix}-notifier", clock, store=store)


async def test_resolved_alert_is_cleared_after_the_age_and_a_firing_one_stays(
    mqtt_broker: MosquittoBroker, topic_prefix: str
) -> None:
    clock, store = Clock(), MemoryRetainedStore()
    fired_a, fired_b, resolved_a = fire_and_resolve()
    assert resolved_a.payload.state == "resolved" and fired_b.payload.state == "firing"
    first = notifier(mqtt_broker, topic_prefix, clock, store)
    await first.start()
    for change in (fired_a, fired_b, resolved_a):
        await first.deliver(delivery_of(change, "responders"))
    assert await first.flush(timeout=10)
    topic_a, topic_b = first.topic_for(fired_a.payload.id), first.topic_for(fired_b.payload.id)
    assert await retained(mqtt_broker, f"{topic_prefix}/alerts/#") == {topic_a: "resolved", topic_b: "firing"}

    clock.now += timedelta(minutes=59)
    assert await first.sweep() == 0  # not old enough
    await first.close()  # a restart before the age: the store remembers what to clear
    assert [e.alert_id for e in await store.retained_resolved("responders")] == [fired_a.payload.id]

    clock.now += timedelta(minutes=2)
    second = notifier(mqtt_broker, topic_prefix, clock, store)
    await second.start()
    assert await second.sweep() == 1
    assert await second.flush(timeout=10)
    await second.close()
    assert await retained(mqtt_broker, f"{topic_prefix}/alerts/#") == {topic_b: "firing"}
    assert await store.retained_resolved("responders") == []


STREAMS = (
    STREAMS_HEAD
    + """
channels:
  - {{id: responders, type: mqtt, clear_resolved_after: {age}}}
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    channels: [dashboard, responders]
"""
)


async def test_server_clears_resolved_alerts_also_after_a_restart(
    pg_database: str, mqtt_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix, age="1h"))
    settings = make_settings(pg_database, mqtt_broker.url, config)
    start = datetime.now(UTC) - timedelta(minutes=10)
    alerts = f"{topic_prefix}/alerts/#"

    async with running_app(settings, create_app(settings)) as client:
        publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
        readings = [("sal-1", 5.0, 0), ("sal-2", 5.0, 0), ("sal-1", 1.0, 1)]
        publisher.publish_all(
            [
                (f"{topic_prefix}/sensors/{sensor}", f'{{"value": {value}, "ts": "{start + timedelta(minutes=m)}"}}')
                for sensor, value, m in readings
            ]
        )
        publisher.close()

        async def both_retained() -> bool:
            return sorted((await retained(mqtt_broker, alerts)).values()) == ["firing", "resolved"]

        await wait_until(both_retained, timeout=20, what="a firing and a resolved alert retained")
        resolved = (await client.get("/api/alerts", params={"state": "resolved"})).json()
    assert await count_rows(pg_database, "SELECT count(*) FROM alert_retained_resolved") == 1

    config.write_text(STREAMS.format(prefix=topic_prefix, age="1s"))  # the next run clears it at once
    async with running_app(settings, create_app(settings)):

        async def only_firing() -> bool:
            return list((await retained(mqtt_broker, alerts)).values()) == ["firing"]

        await wait_until(only_firing, timeout=20, what="the resolved alert's retained message to go")
        await wait_until(
            lambda: _no_rows(pg_database), timeout=10, what="the cleared alert to leave alert_retained_resolved"
        )
    assert f"{topic_prefix}/alerts/{resolved[0]['id']}" not in await retained(mqtt_broker, alerts)


async def _no_rows(database_url: str) -> bool:
    return await count_rows(database_url, "SELECT count(*) FROM alert_retained_resolved") == 0
