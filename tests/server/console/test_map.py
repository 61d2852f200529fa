"""The Leaflet map in real Chromium: markers at their coordinates, clustered when dense, no label over
another at any zoom, site outlines from GeoJSON (else circles, said so), clicks that open the live
camera or the sensor's chart, and an alert that flies the map to its sensor. Screenshots in artifacts/console/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.auth.roles import Role
from tests.server.console.conftest import ARTIFACTS, PASSWORDS, LiveServer, log_in, serve_console
from tests.server.helpers import make_settings

SENSORS = [  # close together around TP. Sóc Trăng, as the demo's are
    ("sal-1", "Độ mặn sông Maspero", "salinity", "‰", 9.6030, 105.9740),
    ("sal-2", "Độ mặn cống Thạnh Mỹ", "salinity", "‰", 9.6060, 105.9790),
    ("pm-1", "Bụi PM2.5 trung tâm", "pm25", "µg/m³", 9.6010, 105.9710),
    ("wl-1", "Mực nước bến Đại Ngãi", "water_level", "m", 9.6472, 106.1690),
    ("sal-3", "Độ mặn Vĩnh Châu", "salinity", "‰", 9.3290, 105.9810),
]
STREAMS = """version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
console:
  map: {{outlines: {{tp-soc-trang: tp.geojson}}}}
sites:
  - {{id: tp-soc-trang, name: TP. Sóc Trăng, location: {{lat: 9.6025, lon: 105.9739}}}}
  - {{id: long-phu, name: Huyện Long Phú, location: {{lat: 9.6120, lon: 106.1280}}}}
  - {{id: vinh-chau, name: Thị xã Vĩnh Châu, location: {{lat: 9.3300, lon: 105.9800}}}}
edge_workers: [{{id: edge-1}}]
cameras:
  - {{id: cam-1, name: Ngã tư Trần Hưng Đạo, site: tp-soc-trang, worker: edge-1,
     source: {{type: rtsp, url: "rtsp://127.0.0.1:9/none"}}, location: {{lat: 9.6045, lon: 105.9760}}}}
  - {{id: cam-2, name: Bến phà Đại Ngãi, site: long-phu, worker: edge-1,
     source: {{type: rtsp, url: "rtsp://127.0.0.1:9/none"}}, location: {{lat: 9.6480, lon: 106.1700}}}}
sensors:
{sensors}
"""
OUTLINE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "TP. Sóc Trăng"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[105.93, 9.57], [106.02, 9.57], [106.02, 9.64], [105.93, 9.64], [105.93, 9.57]]],
            },
        }
    ],
}


@pytest.fixture
def map_console(tmp_path: Path, topic_prefix: str, pg_database: str, mqtt_broker: object) -> Iterator[LiveServer]:
    sensors = "".join(
        f'  - {{id: {i}, name: {n}, kind: {k}, unit: "{u}", site: {"vinh-chau" if i == "sal-3" else "tp-soc-trang"},'
        f" location: {{lat: {lat}, lon: {lon}}}}}\n"
        for i, n, k, u, lat, lon in SENSORS
    )
    (tmp_path / "tp.geojson").write_text(json.dumps(OUTLINE), encoding="utf-8")
    streams = tmp_path / "streams.yaml"
    streams.write_text(STREAMS.format(prefix=topic_prefix, sensors=sensors), encoding="utf-8")
    with serve_console(make_settings(pg_database, mqtt_broker.url, streams)) as served:  # type: ignore[attr-defined]
        yield served


POSITIONS = """() => Object.entries(MapView.markers)
  .filter(([, m]) => m.marker.getElement() && MapView.map.hasLayer(m.marker))
  .map(([id, m]) => {
    const r = m.marker.getElement().getBoundingClientRect(), c = MapView.map.getContainer().getBoundingClientRect();
    const p = MapView.map.latLngToContainerPoint([m.item.location.lat, m.item.location.lon]);
    return [id, r.left + r.width / 2 - c.left - p.x, r.top + r.height / 2 - c.top - p.y];
  })"""
LABELS = """() => [...document.querySelectorAll('#map .map-label')].filter((e) => e.style.display !== 'none')
  .map((e) => { const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; })"""


def overlapping(labels: list[list[object]]) -> list[tuple[object, object]]:
    found = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            if not (a[3] <= b[1] or a[1] >= b[3] or a[4] <= b[2] or a[2] >= b[4]):  # type: ignore[operator]
                found.append((a[0], b[0]))
    return found


def test_markers_sit_at_their_coordinates_and_labels_never_overlap(map_console: LiveServer, page: object) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))  # type: ignore[attr-defined]
    log_in(page, map_console.url, "operator", PASSWORDS[Role.OPERATOR])
    page.wait_for_selector("#whoami:has-text('operator')")  # type: ignore[attr-defined]
    page.click("#tabs [data-tab=map]")  # type: ignore[attr-defined]
    page.wait_for_selector("#map.leaflet-container .marker")  # type: ignore[attr-defined]
    page.wait_for_selector("#map path.site-shape")  # type: ignore[attr-defined]
    assert page.get_attribute("#map", "data-base") == "grid"  # type: ignore[attr-defined]  # no tile URL configured
    assert "GeoJSON" in page.inner_text("#map-note")  # type: ignore[attr-defined]  # two sites are circles, said so

    for zoom in (10, 12, 14, 16):
        page.evaluate(f"() => MapView.map.setZoom({zoom}, {{animate: false}})")  # type: ignore[attr-defined]
        page.wait_for_timeout(700)  # type: ignore[attr-defined]
        page.evaluate("() => MapView.placeLabels()")  # type: ignore[attr-defined]
        labels = page.evaluate(LABELS)  # type: ignore[attr-defined]
        assert labels, f"no label shown at zoom {zoom}"
        assert not overlapping(labels), f"labels overlap at zoom {zoom}: {overlapping(labels)}"
        for marker_id, dx, dy in page.evaluate(POSITIONS):  # type: ignore[attr-defined]
            assert abs(dx) <= 1.5 and abs(dy) <= 1.5, f"{marker_id} drawn {dx:.1f},{dy:.1f} px off at zoom {zoom}"
        if zoom == 10:
            assert page.locator("#map .marker-cluster").count() >= 1  # type: ignore[attr-defined]  # dense: clustered
            page.screenshot(path=str(ARTIFACTS / "map-zoom10.png"))  # type: ignore[attr-defined]
    page.evaluate("() => MapView.map.fitBounds(L.latLngBounds([[9.59, 105.96], [9.62, 105.99]]))")  # type: ignore[attr-defined]
    page.wait_for_timeout(700)  # type: ignore[attr-defined]
    page.evaluate("() => MapView.placeLabels()")  # type: ignore[attr-defined]
    assert not overlapping(page.evaluate(LABELS))  # type: ignore[attr-defined]
    assert len(page.evaluate(POSITIONS)) == 4  # type: ignore[attr-defined]  # the city's four, unclustered
    page.screenshot(path=str(ARTIFACTS / "map-city.png"))  # type: ignore[attr-defined]

    # A sensor opens its chart; a camera opens live, alone on the wall.
    page.click("#map .marker.sensor[data-id=pm-1]")  # type: ignore[attr-defined]
    page.wait_for_selector("#panel-sensors:not([hidden])")  # type: ignore[attr-defined]
    assert page.inner_text("#chart-title").startswith("Bụi PM2.5 trung tâm")  # type: ignore[attr-defined]
    page.click("#tabs [data-tab=map]")  # type: ignore[attr-defined]
    page.click("#map .marker.camera[data-id=cam-1]")  # type: ignore[attr-defined]
    page.wait_for_selector("#panel-wall:not([hidden])")  # type: ignore[attr-defined]
    assert page.eval_on_selector_all("#wall .tile", "els => els.map((e) => e.dataset.camera)") == ["cam-1"]  # type: ignore[attr-defined]

    # An alert flies the map to its sensor.
    page.evaluate("() => App.showOnMap({subject: 'sal-3', site: 'vinh-chau'})")  # type: ignore[attr-defined]
    page.wait_for_timeout(1200)  # type: ignore[attr-defined]
    centre = page.evaluate("() => MapView.map.getCenter()")  # type: ignore[attr-defined]
    assert abs(centre["lat"] - 9.3290) < 0.01 and abs(centre["lng"] - 105.9810) < 0.01, centre
    assert errors == []
