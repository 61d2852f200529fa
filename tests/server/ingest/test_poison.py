"""Poison on the MQTT path (private Mosquitto, real PostgreSQL): every poison of the corpus on
every kind of topic the server subscribes to, one of them retained before the server starts,
becomes a dead letter with a reason; the ingest goes on and stores the valid readings after them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from server.ingest.errors import Reason
from tests.fixtures.poison import CORPUS, DEPTH, Poison, publish_corpus
from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until, write_streams

DEV_EUI = "a84041000181c7e1"
CHIRPSTACK_SENSOR = """
  - id: lora-1
    name: LoRa salinity
    kind: salinity
    unit: "‰"
    site: long-phu
    payload: {{format: chirpstack, application_id: {prefix}-app, dev_eui: "{dev_eui}", value_path: $.salinity}}
"""


def _streams(tmp_path: Path, prefix: str) -> Path:
    path = write_streams(tmp_path, prefix, group="null")
    path.write_text(path.read_text() + CHIRPSTACK_SENSOR.format(prefix=prefix, dev_eui=DEV_EUI))
    return path


def _topics(prefix: str) -> dict[str, str]:
    """One topic of each kind the server subscribes to."""
    return {
        "native sensor": f"{prefix}/sensors/sal-1",
        "json-path sensor": f"{prefix}/sensors/level",
        "fiware sensor": f"{prefix}-ext/stations/wq",
        "number sensor": f"{prefix}-ext/rain",
        "unknown sensor": f"{prefix}/sensors/ghost",
        "gateway": f"{prefix}/gateways/gw-1",
        "camera events": f"{prefix}/cameras/gate/events",
        "camera status": f"{prefix}/cameras/gate/status",
        "edge status": f"{prefix}/edge/edge-1/status",
        "chirpstack uplink": f"application/{prefix}-app/device/{DEV_EUI}/event/up",
    }


def _expected_reason(poison: Poison, topic: str) -> str | None:
    if poison.reason == "too_large" and topic.endswith("/events"):
        return None  # an event may carry a 2 MB snapshot: this one is refused by its fields instead
    return poison.reason


async def _dead_letters(database_url: str) -> list[tuple[str, str, str, bytes, int]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT topic, reason, detail, payload, payload_size FROM dead_letters")
        return [(row[0], row[1], row[2], bytes(row[3]), row[4]) for row in await cursor.fetchall()]


async def test_every_poison_on_every_topic_is_a_dead_letter(
    pg_database: str, private_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path
) -> None:
    topics = _topics(topic_prefix)
    settings = make_settings(pg_database, private_broker.url, _streams(tmp_path, topic_prefix))
    publisher = Publisher(private_broker.host, private_broker.port)
    retained = CORPUS[0]  # 10,000-deep, retained: every new subscription gets it again
    publisher.client.publish(topics["edge status"], retained.payload, qos=1, retain=True).wait_for_publish(10)
    try:
        async with running_app(settings) as client:
            sent = publish_corpus(publisher, list(topics.values()))
            now = datetime.now(UTC).replace(microsecond=0)
            earlier = (now - timedelta(seconds=1)).isoformat()
            batch = {"v": 1, "readings": [{"sensor": "sal-1", "value": 4.3, "ts": earlier}]}
            publisher.publish_all(
                [
                    (topics["native sensor"], json.dumps({"v": 1, "value": 4.2, "ts": now.isoformat()})),
                    (topics["gateway"], json.dumps(batch)),
                ]
            )

            async def stored() -> bool:
                return await count_rows(pg_database, "SELECT count(*) FROM readings") >= 2

            await wait_until(stored, 30, "the valid readings after the poison")
            letters = await _dead_letters(pg_database)
            health = await client.get("/health")
            metrics = (await client.get("/metrics")).text
    finally:
        publisher.client.publish(topics["edge status"], b"", qos=1, retain=True).wait_for_publish(10)
        publisher.close()

    known = {reason.value for reason in Reason} - {Reason.DECODE_FAILED.value}
    for topic, poison in [(topics["edge status"], retained), *sent]:
        found = [letter for letter in letters if letter[0] == topic and letter[4] == len(poison.payload)]
        assert found, f"{poison.name} on {topic}: no dead letter"
        _, reason, detail, payload, _ = found[0]
        assert reason in known and detail, (poison.name, topic, reason, detail)
        assert payload == poison.payload[: settings.dead_letter_max_bytes]
        expected = _expected_reason(poison, topic)
        assert expected is None or reason == expected, (poison.name, topic, reason)
    retained_letters = [x for x in letters if x[0] == topics["edge status"] and x[4] == 2 * DEPTH]
    assert len(retained_letters) >= 2  # the retained copy at subscription and the published one
    assert await count_rows(pg_database, "SELECT count(*) FROM readings") == 2  # nothing from the poison
    for table in ("edge_status", "camera_status", "detection_events"):
        assert await count_rows(pg_database, f"SELECT count(*) FROM {table}") == 0, table
    assert health.status_code == 200, health.text
    assert 'ioc_ingest_dead_letters_total{reason="too_deep"}' in metrics
