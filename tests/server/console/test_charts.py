"""Sensor charts drawn by uPlot in real Chromium: a fresh sensor's minutes of data fill the 1 h range,
ticks are round, the alert level is drawn, hover shows values and a drag zooms. Screenshot in artifacts/console/."""

from __future__ import annotations

import itertools
import json
import math
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.auth.roles import Role
from tests.server.console.conftest import ARTIFACTS, PASSWORDS, LiveServer, log_in
from tests.server.helpers import Publisher

# Red pixels of the 4‰ (critical) level line, along its row of the plot canvas.
LEVEL_PIXELS = """() => {
  const u = Chart.plot, y = Math.round(u.valToPos(4, 'y', true)), ctx = u.ctx;
  const row = ctx.getImageData(Math.round(u.bbox.left), y - 1, Math.round(u.bbox.width), 3).data;
  let red = 0;
  for (let i = 0; i < row.length; i += 4) if (row[i] > 200 && row[i + 1] < 120 && row[i + 2] < 120) red++;
  return red;
}"""


def is_round(step: float) -> bool:
    exponent = math.floor(math.log10(step))
    mantissa = round(step / 10**exponent, 6)
    return mantissa in (1.0, 2.0, 2.5, 5.0)


def test_a_fresh_sensor_fills_the_one_hour_chart(
    served_console: LiveServer,
    page: object,
    mqtt_broker: object,
) -> None:
    prefix = served_console.app.state.ioc.config.mqtt.topic_prefix
    now = datetime.now(UTC)
    readings = [{"value": 1.0 + i * 0.1, "ts": (now - timedelta(minutes=50 - i)).isoformat()} for i in range(30)]
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    try:
        publisher.publish_all([(f"{prefix}/sensors/sal-1", json.dumps(r)) for r in readings])
    finally:
        publisher.close()
    api = httpx.Client(base_url=served_console.url)
    api.post("/api/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]}).raise_for_status()
    window = {"start": (now - timedelta(hours=1)).isoformat(), "end": datetime.now(UTC).isoformat()}
    deadline = time.monotonic() + 20
    while len(api.get("/api/sensors/sal-1/readings", params=window).json()["points"] or []) < 30:
        assert time.monotonic() < deadline, "the readings were not stored"
        time.sleep(0.2)
    log_in(page, served_console.url, "viewer", PASSWORDS[Role.VIEWER])
    page.wait_for_selector("#whoami:has-text('viewer')")  # type: ignore[attr-defined]
    page.click("#tabs [data-tab=sensors]")  # type: ignore[attr-defined]
    page.click("#ranges button[data-range='1h']")  # type: ignore[attr-defined]
    page.wait_for_function("() => Number(document.getElementById('chart').dataset.points) >= 30")  # type: ignore[attr-defined]
    page.wait_for_function("() => Chart.plot && Chart.plot.scales.x.max - Chart.plot.scales.x.min < 3700")  # type: ignore[attr-defined]
    span = page.evaluate("() => Chart.plot.scales.x.max - Chart.plot.scales.x.min")  # type: ignore[attr-defined]
    assert abs(span - 3600) < 5
    first = page.evaluate("() => Chart.plot.data[0][0]")  # type: ignore[attr-defined]
    assert first - page.evaluate("() => Chart.plot.scales.x.min") < 700  # the data spans most of the width

    splits = page.evaluate("() => Chart.plot.axes[1]._splits")  # type: ignore[attr-defined]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(splits)}
    assert len(steps) == 1 and is_round(steps.pop()), f"y ticks {splits}"
    assert page.evaluate("() => Chart.plot.scales.y.max") >= 4.0  # the alert level is in view
    assert page.evaluate(LEVEL_PIXELS) > 100, "the 4‰ level line is not drawn"  # type: ignore[attr-defined]
    labels = page.evaluate("() => Chart.plot.axes[0]._values")  # type: ignore[attr-defined]
    assert all(":" in label for label in labels), labels  # times of day on a 1 h range

    box = page.locator("#chart .u-over").bounding_box()  # type: ignore[attr-defined]
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)  # type: ignore[attr-defined]
    time.sleep(0.2)
    shown = page.inner_text("#chart .u-legend .u-series:nth-child(2) .u-value")  # type: ignore[attr-defined]
    assert "‰" in shown and shown != "–", shown
    page.screenshot(path=str(ARTIFACTS / "chart-1h.png"))  # type: ignore[attr-defined]

    page.mouse.down()  # type: ignore[attr-defined]
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=5)  # type: ignore[attr-defined]
    page.mouse.up()  # type: ignore[attr-defined]
    zoomed = page.evaluate("() => Chart.plot.scales.x.max - Chart.plot.scales.x.min")  # type: ignore[attr-defined]
    assert 900 < zoomed < 1300, f"a drag over 30 % of 1 h zoomed to {zoomed} s"

    page.click("#ranges button[data-range='30d']")  # type: ignore[attr-defined]
    page.wait_for_function("() => Chart.plot.scales.x.max - Chart.plot.scales.x.min > 29 * 86400")  # type: ignore[attr-defined]
    labels = page.evaluate("() => Chart.plot.axes[0]._values")  # type: ignore[attr-defined]
    assert all(":" not in label and "/" in label for label in labels), labels  # days on a 30-day range
    page.screenshot(path=str(ARTIFACTS / "chart-30d.png"))  # type: ignore[attr-defined]
    if page.evaluate("() => !window.uPlot"):  # type: ignore[attr-defined]
        pytest.fail("uPlot is not served: run scripts/setup-dev.sh (npm ci in server/web)")
