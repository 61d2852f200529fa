"""The overview in real Chromium: each figure equals what the API says (alerts and incidents by
severity and site, devices offline, the latest salinity per site, water level, PM2.5 as VN_AQI, line
crossings today as people and vehicles), in both languages. Screenshots in artifacts/console/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from server.auth.roles import Role
from tests.server.console.conftest import ARTIFACTS, PASSWORDS, LiveServer, log_in, serve_console
from tests.server.console.overlay_events import detection_event, events_topic
from tests.server.helpers import Publisher, make_settings

STREAMS = """version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites:
  - {{id: long-phu, name: Huyện Long Phú, location: {{lat: 9.61, lon: 106.12}}}}
  - {{id: vinh-chau, name: Thị xã Vĩnh Châu, location: {{lat: 9.33, lon: 105.98}}}}
edge_workers: [{{id: edge-1}}]
cameras:
  - id: cam-1
    name: Cầu Đại Ngãi
    site: long-phu
    worker: edge-1
    source: {{type: rtsp, url: "rtsp://127.0.0.1:9/none"}}
    lines: [{{id: bridge, name: Lối lên cầu, start: [0.1, 0.5], end: [0.9, 0.5]}}]
sensors:
  - {{id: sal-lp, name: Độ mặn Long Phú, kind: salinity, unit: "‰", site: long-phu}}
  - {{id: sal-vc1, name: Độ mặn Vĩnh Châu 1, kind: salinity, unit: "‰", site: vinh-chau}}
  - {{id: sal-vc2, name: Độ mặn Vĩnh Châu 2, kind: salinity, unit: "‰", site: vinh-chau}}
  - {{id: wl-1, name: Mực nước Đại Ngãi, kind: water_level, unit: m, site: long-phu}}
  - {{id: pm-1, name: Bụi PM2.5 Vĩnh Châu, kind: pm25, unit: "µg/m³", site: vinh-chau}}
rules:
  - {{id: salt, name: Xâm nhập mặn 4‰, type: threshold, sensor_kind: salinity, raise: {{above: 4.0}},
     clear: {{below: 3.5}}, severity: critical, incident: {{type: salinity}}}}
  - {{id: flood-1, name: Báo động 1, type: threshold, sensors: [wl-1], raise: {{above: 1.5}},
     clear: {{below: 1.4}}, severity: warning, incident: {{type: flood}}}}
  - {{id: flood-2, name: Báo động 2, type: threshold, sensors: [wl-1], raise: {{above: 1.8}},
     clear: {{below: 1.7}}, severity: critical}}
"""
READINGS = {"sal-lp": 2.6, "sal-vc1": 4.6, "sal-vc2": 1.2, "wl-1": 1.62, "pm-1": 62.0}
CROSSINGS = [("in", "person"), ("in", "person"), ("out", "person"), ("in", "car"), ("in", "dog")]
KINDS = {"person": "people", "car": "vehicles", "truck": "vehicles", "motorcycle": "vehicles"}


@pytest.fixture
def overview_console(tmp_path: Path, topic_prefix: str, pg_database: str, mqtt_broker: object) -> Iterator[LiveServer]:
    streams = tmp_path / "streams.yaml"
    streams.write_text(STREAMS.format(prefix=topic_prefix), encoding="utf-8")
    with serve_console(make_settings(pg_database, mqtt_broker.url, streams)) as served:  # type: ignore[attr-defined]
        yield served


def open_alerts(api: httpx.Client) -> list[dict[str, object]]:
    return [a for a in api.get("/api/alerts").json() if a["state"] != "resolved"]


def line_counts(api: httpx.Client) -> list[dict[str, object]]:
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = api.get("/api/events/counts", params={"group": "line_label", "start": start})
    assert response.status_code == 200, response.text
    return list(response.json())


def crossings(api: httpx.Client) -> int:
    return sum(int(c["count"]) for c in line_counts(api))  # type: ignore[call-overload]


def open_incidents(api: httpx.Client) -> list[dict[str, object]]:
    response = api.get("/api/incidents", params={"active": "true", "limit": 1000})
    assert response.status_code == 200, response.text
    return list(response.json())


def figures(browser: object) -> dict[str, str]:
    pairs = browser.eval_on_selector_all("[data-figure]", "els => els.map((e) => [e.dataset.figure, e.textContent])")  # type: ignore[attr-defined]
    return dict(pairs)


def test_the_overview_shows_what_the_api_says(overview_console: LiveServer, page: object, mqtt_broker: object) -> None:
    prefix = overview_console.app.state.ioc.config.mqtt.topic_prefix
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    now = datetime.now(UTC).isoformat()
    messages: list[tuple[str, bytes | str]] = [
        (f"{prefix}/sensors/{sensor}", json.dumps({"value": value, "ts": now})) for sensor, value in READINGS.items()
    ]
    for direction, label in CROSSINGS:
        crossing = {"zone": None, "line": "bridge", "direction": direction, "label": label}
        messages.append(
            (events_topic(prefix), detection_event(kind="line_crossed").model_copy(update=crossing).model_dump_json())
        )
    try:
        publisher.publish_all(messages)
    finally:
        publisher.close()

    api = httpx.Client(base_url=overview_console.url)
    api.post("/api/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]}).raise_for_status()
    deadline = time.monotonic() + 20
    while (
        not all(s["last"] for s in api.get("/api/sensors").json())
        or len(open_alerts(api)) < 2
        or len(open_incidents(api)) < 2
        or crossings(api) < len(CROSSINGS)
    ):
        assert time.monotonic() < deadline, "the readings were not stored or no alert fired"
        time.sleep(0.2)
    time.sleep(1.5)  # let the rules settle: the figures are compared with the API's at one moment
    alerts, incidents = open_alerts(api), open_incidents(api)
    sensors = {s["id"]: s for s in api.get("/api/sensors").json()}
    cameras = api.get("/api/cameras").json()

    log_in(page, overview_console.url + "/#overview", "viewer", PASSWORDS[Role.VIEWER])
    page.wait_for_selector("#panel-overview:not([hidden]) [data-figure=alerts-critical]")  # type: ignore[attr-defined]
    page.wait_for_selector("[data-figure=line-cam-1-bridge-out-people]", timeout=10000)  # type: ignore[attr-defined]
    shown = figures(page)

    for severity in ("critical", "warning", "info"):
        assert shown[f"alerts-{severity}"] == str(sum(a["severity"] == severity for a in alerts)), severity
    for site in ("long-phu", "vinh-chau"):
        expected = sum(a["site"] == site for a in alerts)
        assert shown.get(f"alerts-site-{site}", "0") == str(expected), site
    assert open_alerts(api) == alerts, "an alert changed while the overview was read: compare again"
    for severity in ("critical", "warning", "info"):
        assert shown[f"incidents-{severity}"] == str(sum(i["severity"] == severity for i in incidents)), severity
    for site in ("long-phu", "vinh-chau"):
        expected = sum(i["site"] == site for i in incidents)
        assert shown.get(f"incidents-site-{site}", "0") == str(expected), site
    assert (shown["incidents-critical"], shown["incidents-warning"]) == ("1", "1")  # salt at Vĩnh Châu, flood
    assert (shown["incidents-site-vinh-chau"], shown["incidents-site-long-phu"]) == ("1", "1")
    offline_cameras = sum(c["state"] != "online" for c in cameras)
    assert shown["cameras-offline"] == f"{offline_cameras} / {len(cameras)}"
    offline_sensors = sum(s["status"] != "online" for s in sensors.values())
    assert shown["sensors-offline"] == f"{offline_sensors} / {len(sensors)}"
    lp = sensors["sal-lp"]["last"]["value"]
    vc = max(sensors["sal-vc1"]["last"]["value"], sensors["sal-vc2"]["last"]["value"])
    assert shown["salinity-long-phu"] == f"{lp:.1f} ‰".replace(".", ",")
    assert shown["salinity-vinh-chau"] == f"{vc:.1f} ‰".replace(".", ",")
    assert shown["water-wl-1"] == f"{sensors['wl-1']['last']['value']:.2f} m".replace(".", ",")
    pm = sensors["pm-1"]["last"]["value"]
    aqi = round(100 + (pm - 50) * 50 / (80 - 50))  # VN_AQI, the 50-80 µg/m³ segment
    assert shown["aqi-pm-1"] == f"VN_AQI {aqi} · Kém"
    per_key = {str(c["key"]): 0 for c in line_counts(api)}
    expected_kinds = {f"bridge-{d}-{k}": 0 for d in ("in", "out") for k in ("people", "vehicles")}
    for c in line_counts(api):
        per_key[str(c["key"])] += int(c["count"])  # type: ignore[call-overload]
        direction, label = str(c["key"]).split("/")[1:]
        if label in KINDS:
            expected_kinds[f"bridge-{direction}-{KINDS[label]}"] += int(c["count"])  # type: ignore[call-overload]
    assert per_key == {"bridge/in/person": 2, "bridge/out/person": 1, "bridge/in/car": 1, "bridge/in/dog": 1}
    for key, count in expected_kinds.items():
        assert shown[f"line-cam-1-{key}"] == str(count), key
    assert (shown["line-cam-1-bridge-in-people"], shown["line-cam-1-bridge-in-vehicles"]) == ("2", "1")
    page.screenshot(path=str(ARTIFACTS / "overview-vi.png"))  # type: ignore[attr-defined]

    page.click("#lang-toggle")  # type: ignore[attr-defined]
    assert figures(page)["aqi-pm-1"] == f"VN_AQI {aqi} · Poor"
    assert page.evaluate("() => [...I18N.missing]") == []  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "overview-en.png"))  # type: ignore[attr-defined]
