"""The console in real headless Chromium (Debian's, driven by Playwright): log in, live video from the
real RTSP server, an MQTT reading raising an alert that is acknowledged, charts, map, language.
Screenshots go to artifacts/console/."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.server.console.conftest import ADMIN_PASSWORD, ARTIFACTS, CAMERA_PASSWORD, PASSWORDS, LiveServer, log_in
from tests.server.console.overlay_events import detection_event, events_topic
from tests.server.helpers import Publisher


def frames_decoded(page: object) -> int:
    return int(page.evaluate("() => Live.framesDecoded('cam-1')"))  # type: ignore[attr-defined]


def test_operator_console_end_to_end(
    served_console: LiveServer, page: object, mqtt_broker: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(_text(r)))  # type: ignore[attr-defined]
    prefix = served_console.app.state.ioc.config.mqtt.topic_prefix
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    history = [{"value": 1.0 + i / 10, "ts": (now - timedelta(hours=20 - i)).isoformat()} for i in range(20)]
    publisher.publish_all([(f"{prefix}/sensors/sal-1", json.dumps(reading)) for reading in history])

    # Log in: a wrong password is refused with a message, the right one opens the console.
    log_in(page, served_console.url, "operator", "wrong-password")
    page.wait_for_selector("#login-error:not(:empty)")  # type: ignore[attr-defined]
    log_in(page, served_console.url, "operator", PASSWORDS[pytest.importorskip("server.auth.roles").Role.OPERATOR])
    page.wait_for_selector("#whoami:has-text('operator')")  # type: ignore[attr-defined]

    # Live video really plays: a picture, and decoded frames that keep increasing.
    page.wait_for_function("() => document.querySelector('.tile video')?.videoWidth > 0", timeout=20000)  # type: ignore[attr-defined]
    assert page.evaluate("() => document.querySelector('.tile video').videoWidth") == 640  # type: ignore[attr-defined]
    first = frames_decoded(page)
    time.sleep(1.5)
    second = frames_decoded(page)
    assert second - first >= 10, f"framesDecoded went from {first} to {second} in 1.5 s"
    page.screenshot(path=str(ARTIFACTS / "wall.png"))  # type: ignore[attr-defined]

    # A reading above 4‰ raises a critical alert in the feed within a second; the operator acknowledges it.
    page.wait_for_selector("#alert-conn.up")  # type: ignore[attr-defined]
    started = time.monotonic()
    publisher.publish(f"{prefix}/sensors/sal-1", json.dumps({"value": 5.2, "ts": datetime.now(UTC).isoformat()}))
    page.wait_for_selector("#alert-feed li.sev-critical", timeout=5000)  # type: ignore[attr-defined]
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"the alert took {elapsed:.2f}s to appear"
    page.click("#alert-feed li.sev-critical button[data-action=ack]")  # type: ignore[attr-defined]
    page.wait_for_selector("#alert-feed li[data-state=acknowledged]")  # type: ignore[attr-defined]
    assert "operator" in page.inner_text("#alert-feed li[data-state=acknowledged] .meta")  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "alert-acknowledged.png"))  # type: ignore[attr-defined]

    # The chart shows the stored readings (20 history + 1 live), with the threshold line.
    page.click("#tabs button[data-tab=sensors]")  # type: ignore[attr-defined]
    page.wait_for_function("() => Number(document.getElementById('chart').dataset.points) >= 21")  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "chart.png"))  # type: ignore[attr-defined]

    # The offline map shows one camera and one sensor marker, coloured by status.
    page.click("#tabs button[data-tab=map]")  # type: ignore[attr-defined]
    page.wait_for_selector("#map .marker.camera.online")  # type: ignore[attr-defined]
    assert page.locator("#map .marker").count() == 2  # type: ignore[attr-defined]
    assert page.locator("#map .marker.sensor.online").count() == 1  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "map.png"))  # type: ignore[attr-defined]

    # Vietnamese by default; the switch turns the console to English.
    assert page.inner_text("#tabs button[data-tab=map]") == "Bản đồ"  # type: ignore[attr-defined]
    page.click("#lang-toggle")  # type: ignore[attr-defined]
    assert page.inner_text("#tabs button[data-tab=map]") == "Map"  # type: ignore[attr-defined]
    assert page.evaluate("() => document.documentElement.lang") == "en"  # type: ignore[attr-defined]
    page.click("#tabs button[data-tab=wall]")  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "wall-english.png"))  # type: ignore[attr-defined]
    publisher.close()

    # No secret reached the browser or the logs.
    for secret in (CAMERA_PASSWORD, ADMIN_PASSWORD, *PASSWORDS.values()):
        assert not any(secret in body for body in bodies), "a secret was sent to the browser"
        assert secret not in caplog.text, "a secret was logged"
    assert "$argon2" not in "".join(bodies)


def _text(response: object) -> str:
    try:
        return str(response.text())  # type: ignore[attr-defined]
    except Exception:
        return ""


def test_refused_streams_yaml_edit_shows_a_banner_until_fixed(served_console: LiveServer, page: object) -> None:
    """A broken streams.yaml written while the server runs: the console shows the refused lines (vi, en)
    within a few seconds while the old config keeps running; a valid edit takes the banner away."""
    streams = served_console.settings.config
    original = streams.read_text(encoding="utf-8")
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(_text(r)))  # type: ignore[attr-defined]
    log_in(page, served_console.url, "viewer", PASSWORDS[pytest.importorskip("server.auth.roles").Role.VIEWER])
    page.wait_for_selector("#whoami:has-text('viewer')")  # type: ignore[attr-defined]
    assert page.locator("#config-error").is_hidden()  # type: ignore[attr-defined]

    streams.write_text(original.replace("raise: {above: 4.0}", "raise: {above: 4.0, bogus: 1}"), encoding="utf-8")
    started = time.monotonic()
    page.wait_for_selector("#config-error:not(.hidden)", timeout=8000)  # type: ignore[attr-defined]
    assert time.monotonic() - started < 8
    lines = page.inner_text("#config-error .lines")  # type: ignore[attr-defined]
    assert f"{streams}:34: rules[0].raise.bogus: unknown key 'bogus'" in lines
    assert "bị từ chối" in page.inner_text("#config-error .title")  # type: ignore[attr-defined]
    assert served_console.app.state.ioc.config.rules[0].id == "salinity-intrusion"  # the old config runs
    page.click("#lang-toggle")  # type: ignore[attr-defined]
    assert "was refused" in page.inner_text("#config-error .title")  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "config-refused.png"))  # type: ignore[attr-defined]

    streams.write_text(original.replace("name: Xâm nhập mặn 4‰", "name: Xâm nhập mặn (4‰)"), encoding="utf-8")
    page.wait_for_selector("#config-error.hidden", state="attached", timeout=8000)  # type: ignore[attr-defined]
    assert page.locator("#config-error").is_hidden()  # type: ignore[attr-defined]
    assert page.inner_text("#config-error .lines") == ""  # type: ignore[attr-defined]
    assert not any(CAMERA_PASSWORD in body for body in bodies), "the camera password reached the browser"


# The alpha of the detection canvas where the left edge of the event's box is drawn (x1 = 0.30, mid-height).
BOX_EDGE_ALPHA = """() => {
  const view = Overlay.views['cam-1'];
  const r = Overlay.contentRect(view, view.boxes), ratio = window.devicePixelRatio || 1;
  const x = Math.round((r.x + 0.30 * r.w) * ratio), y = Math.round((r.y + 0.5 * r.h) * ratio);
  return Math.max(...view.boxes.getContext('2d').getImageData(x - 2, y - 2, 5, 5).data.filter((_, i) => i % 4 === 3));
}"""


def test_detection_overlay_draws_over_the_live_video(
    served_console: LiveServer, page: object, mqtt_broker: object
) -> None:
    """Zones from the layout are drawn over the video; a detection event published over MQTT is drawn
    (box, label) on the overlay canvas, read back with getImageData, and fades out."""
    prefix = served_console.app.state.ioc.config.mqtt.topic_prefix
    log_in(page, served_console.url, "viewer", PASSWORDS[pytest.importorskip("server.auth.roles").Role.VIEWER])
    page.wait_for_function("() => document.querySelector('.tile video')?.videoWidth > 0", timeout=20000)  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => Overlay.views['cam-1']?.socket?.readyState === WebSocket.OPEN", timeout=10000
    )
    shapes = page.evaluate("() => Overlay.paintedPixels('cam-1', 'shapes')")  # type: ignore[attr-defined]
    assert shapes > 1000, "the camera's zone is not drawn"
    assert page.evaluate("() => Overlay.paintedPixels('cam-1')") == 0  # type: ignore[attr-defined]

    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    try:
        started = time.monotonic()
        publisher.publish(events_topic(prefix), detection_event(track_id=42).model_dump_json())
        page.wait_for_function("() => Overlay.paintedPixels('cam-1') > 200", timeout=5000, polling=50)  # type: ignore[attr-defined]
        drawn_after = time.monotonic() - started
        assert page.evaluate(BOX_EDGE_ALPHA) > 0, "nothing drawn on the box's edge"  # type: ignore[attr-defined]
        page.screenshot(path=str(ARTIFACTS / "overlay.png"))  # type: ignore[attr-defined]
        assert drawn_after < 2.0, f"the detection took {drawn_after:.2f}s to be drawn"
        assert page.evaluate("() => Overlay.views['cam-1'].received") == 1  # type: ignore[attr-defined]
    finally:
        publisher.close()
    # It fades: about 1.5 s after it arrived nothing of it is left.
    page.wait_for_function("() => Overlay.paintedPixels('cam-1') === 0", timeout=4000)  # type: ignore[attr-defined]

    # A detection that arrives 2 s after its frame is not drawn: the object is no longer where the box says.
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    try:
        publisher.publish_all([(events_topic(prefix), detection_event(track_id=43, age_s=2.0).model_dump_json())])
    finally:
        publisher.close()
    page.wait_for_function("() => Overlay.views['cam-1'].late === 1", timeout=5000)  # type: ignore[attr-defined]
    assert page.evaluate("() => Overlay.paintedPixels('cam-1')") == 0  # type: ignore[attr-defined]
