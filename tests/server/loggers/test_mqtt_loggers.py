"""LoRaWAN uplinks through ChirpStack v4 and Tasmota nodes, published over real MQTT."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import Publisher, make_settings, running_app, wait_until

DEV_EUI = "a84041000181c7e1"

STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites: [{{id: long-phu, name: Long Phu}}]
sensors:
  - id: lora-sal
    name: LoRa salinity
    kind: salinity
    unit: "‰"
    site: long-phu
    range: {{min: 0, max: 45}}
    payload:
      format: chirpstack
      application_id: {prefix}
      dev_eui: "{dev_eui}"
      value_path: $.salinity
      quality_path: $.status
      quality_values: {{"0": normal, "1": calibrating, "2": error}}
  - id: lora-level
    name: LoRa level
    kind: water_level
    unit: m
    site: long-phu
    payload: {{format: chirpstack, application_id: {prefix}, dev_eui: "{dev_eui_upper}", value_path: $.level_cm}}
    convert: {{scale: 0.01}}
  - id: tasmota-temp
    name: Tasmota temperature
    kind: temperature
    unit: "°C"
    site: long-phu
    topic: {prefix}-tele/tasmota_7A1B/SENSOR
    payload: {{format: json, value_path: $.DS18B20.Temperature, time_path: $.Time}}
  - id: esp-sal
    name: ESPHome salinity (decimal comma, Tokyo-set clock)
    kind: salinity
    unit: "‰"
    site: long-phu
    topic: {prefix}-esp/sal
    payload: {{format: json, value_path: $.sal, time_path: $.t, timezone: Asia/Tokyo, decimal_comma: true}}
"""


def uplink(prefix: str, fcnt: int, time: datetime, dev_eui: str = DEV_EUI, **values: object) -> tuple[str, str]:
    body = {
        "deduplicationId": f"dedup-{fcnt}-{time.timestamp()}",
        "time": time.isoformat().replace("+00:00", "Z"),
        "deviceInfo": {"tenantName": "Soc Trang", "applicationId": prefix, "devEui": dev_eui, "deviceName": "node-1"},
        "devAddr": "00b1d2e3",
        "fCnt": fcnt,
        "fPort": 2,
        "data": "AQID",
        "object": values,
        "rxInfo": [{"gatewayId": "0016c001ff10a235", "rssi": -97, "snr": 7.5}],
    }
    return f"application/{prefix}/device/{dev_eui}/event/up", json.dumps(body)


async def rows(database_url: str) -> list[tuple[str, datetime, float, str]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT sensor_id, time, value, quality FROM readings ORDER BY sensor_id, time")
        return [(r[0], r[1], r[2], r[3]) for r in await cursor.fetchall()]


async def test_chirpstack_and_tasmota_payloads_over_mqtt(
    pg_database: str, mqtt_broker: MosquittoBroker, publisher: Publisher, topic_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(
        STREAMS.format(prefix=topic_prefix, dev_eui=DEV_EUI, dev_eui_upper=DEV_EUI.upper()), encoding="utf-8"
    )
    settings = make_settings(pg_database, mqtt_broker.url, config)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    async with running_app(settings) as client:
        publisher.publish_all(
            [
                uplink(topic_prefix, 7, t0, salinity=3.4, level_cm=152, status=0),
                # the same frame again (a second integration, a repeat): a later time, stored once
                uplink(topic_prefix, 7, t0 + timedelta(seconds=3), salinity=3.4, level_cm=152, status=0),
                uplink(topic_prefix, 8, t0 + timedelta(minutes=5), salinity=9.9, level_cm=150, status=1),
                uplink(topic_prefix, 9, t0 + timedelta(minutes=10), dev_eui="ffffffffffffffff", salinity=1.0),
                uplink(topic_prefix, 10, t0 + timedelta(minutes=15), salinity=3.5, level_cm=149, status="x"),
                (
                    f"{topic_prefix}-tele/tasmota_7A1B/SENSOR",
                    json.dumps({"Time": "2026-03-01T07:00:00", "DS18B20": {"Id": "0316", "Temperature": 28.5}}),
                ),
                (f"{topic_prefix}-esp/sal", json.dumps({"sal": "3,2", "t": "2026-03-01T09:00:00"})),
                (f"{topic_prefix}-esp/sal", json.dumps({"sal": "3.2", "t": "2026-03-01T09:05:00"})),
            ]
        )

        async def settled() -> bool:
            letters = (await client.get("/api/dead-letters")).json()["items"]
            return len(await rows(pg_database)) == 7 and len(letters) == 3

        await wait_until(settled, timeout=15, what="7 readings and 3 dead letters")
        letters = (await client.get("/api/dead-letters")).json()["items"]
        points = (await client.get("/api/sensors/lora-sal/readings", params={"bucket": "raw"})).json()["points"]

    stored = await rows(pg_database)
    assert stored == [
        ("esp-sal", datetime(2026, 3, 1, 0, 0, tzinfo=UTC), 3.2, "normal"),  # 09:00 in Tokyo, decimal comma
        ("lora-level", t0, 1.52, "normal"),
        ("lora-level", t0 + timedelta(minutes=5), 1.5, "normal"),
        ("lora-level", t0 + timedelta(minutes=15), 1.49, "normal"),
        ("lora-sal", t0, 3.4, "normal"),
        ("lora-sal", t0 + timedelta(minutes=5), 9.9, "calibrating"),
        ("tasmota-temp", datetime(2026, 3, 1, 0, 0, tzinfo=UTC), 28.5, "normal"),  # 07:00 at the site (UTC+7)
    ]
    assert [p["quality"] for p in points] == ["normal", "calibrating"]
    reasons = sorted((letter["reason"], letter["sensor_id"]) for letter in letters)
    assert reasons == [("bad_quality", "lora-sal"), ("unknown_sensor", None), ("wrong_type", "esp-sal")]
    wrong = next(letter for letter in letters if letter["reason"] == "wrong_type")
    assert "decimal-comma" in wrong["detail"]
