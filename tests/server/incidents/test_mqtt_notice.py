"""An escalation notice through the existing MQTT notifier (real Mosquitto): retained on
`<topic>/<incident_id>`, its body the channel's Vietnamese template, so a Zalo OA or SMS bridge
subscribed to the topic gets text it can forward as is."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from server.app import create_app
from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import make_settings, running_app
from tests.server.incidents.appkit import fire, wait_for_alerts

STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites: [{{id: long-phu, name: Long Phu}}]
sensors:
  - {{id: sal-1, name: Salinity 1, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
channels:
  - id: zalo
    type: mqtt
    topic: {prefix}/zalo
    template:
      vi: "[IOC] Sự cố {{{{ alert.summary }}}} tại {{{{ alert.site }}}} (lần {{{{ alert.labels.round }}}})"
      en: "[IOC] Incident {{{{ alert.summary }}}}"
escalations:
  - {{id: duty, sites: [long-phu], levels: [{{channels: [zalo]}}], repeat_after: 1h}}
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    incident: {{type: salinity}}
"""


def retained_bodies(broker: MosquittoBroker, topic_filter: str, settle_s: float = 0.5) -> dict[str, str]:
    got: dict[str, str] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:8]}")
    client.on_message = lambda _c, _u, m: got.__setitem__(m.topic, m.payload.decode()) if m.retain else None
    client.connect(broker.host, broker.port)
    client.subscribe(topic_filter, qos=1)
    client.loop_start()
    time.sleep(settle_s)
    client.loop_stop()
    client.disconnect()
    return got


async def test_an_escalation_notice_is_published_retained_with_the_channel_template(
    pg_database: str, mqtt_broker: MosquittoBroker, tmp_path: Path, topic_prefix: str
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix), encoding="utf-8")
    settings = make_settings(pg_database, mqtt_broker.url, config, ingest_enabled=False)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-1")
        incident = await wait_for_alerts(client, 1)
        topic = f"{topic_prefix}/zalo/{incident['id']}"
        deadline = time.monotonic() + 10
        bodies: dict[str, str] = {}
        while topic not in bodies and time.monotonic() < deadline:
            bodies = await asyncio.to_thread(retained_bodies, mqtt_broker, f"{topic_prefix}/zalo/#")
    assert bodies.get(topic, "").startswith("[IOC] Sự cố "), bodies
    assert bodies[topic].endswith(" tại long-phu (lần 0)")
