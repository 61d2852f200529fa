"""The overlay in step with the picture, in real headless Chromium: a clip whose every frame carries
its index and a box moving at a known speed (overlay_clip.py) is served over RTSP and watched live;
an edge stand-in publishes the true box of 5 pictures a second, 150 ms late, over MQTT. For every
displayed frame the index is read from the video's pixels and the overlay's drawn box compared with
where the box really is in that frame. With no detections, or detections saying "nothing here",
nothing is drawn. The same for a looping file camera, which the server and the edge (its real file
reader) each play in phase with the wall clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.auth.roles import Role
from tests.fixtures.rtsp import RtspServerFactory
from tests.server.console.conftest import (
    ARTIFACTS,
    CAMERA_PASSWORD,
    PASSWORDS,
    LiveServer,
    log_in,
    serve_console,
    write_console_streams,
)
from tests.server.console.overlay_clip import (
    DetectionPublisher,
    PhasedFilePublisher,
    install_sampler,
    make_indexed_clip,
    near_turn,
    summary,
    take_samples,
    time_errors_ms,
)
from tests.server.helpers import make_settings

TOLERANCE_MEDIAN_MS = 100
TOLERANCE_P95_MS = 250


def wait_js(browser_page: Any, script: str, timeout_s: float) -> None:
    browser_page.wait_for_function(script, timeout=timeout_s * 1000, polling=100)


@dataclass
class Watched:
    samples: list[dict[str, Any]]
    empty: list[dict[str, Any]]
    delay: int
    title: str
    published: int


def watch(browser: Any, served: LiveServer, start_publisher: Callable[[], DetectionPublisher], name: str) -> Watched:
    """Log in, check nothing is drawn without detections, then start the edge stand-in and sample
    6 s of displayed frames with their boxes, then 1 s after it says "nothing here"."""
    log_in(browser, served.url, "viewer", PASSWORDS[Role.VIEWER])
    wait_js(browser, "() => document.querySelector('.tile video')?.videoWidth > 0", 20)
    wait_js(browser, "() => Overlay.views['cam-1']?.clock !== null && Overlay.views['cam-1']?.video", 10)
    install_sampler(browser, "cam-1")

    # No detections: every displayed frame, and nothing drawn over any of them.
    time.sleep(1.5)
    quiet = take_samples(browser)
    assert len(quiet) >= 10, f"only {len(quiet)} frames displayed in 1.5 s"
    assert quiet[0]["receiveTime"] is not None, "Chromium gave no receiveTime for the WebRTC frame"
    assert all(not s["boxes"] for s in quiet), "boxes drawn with no detections"

    publisher = start_publisher()
    try:
        # The overlay measures the detections' lag and holds the video back by it.
        wait_js(browser, "() => Overlay.views['cam-1'].delayMs > 0", 15)
        time.sleep(2.0)  # the jitter buffer grows to its new target
        take_samples(browser)
        time.sleep(6.0)
        samples = take_samples(browser)
        browser.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        delay = browser.evaluate("() => Overlay.views['cam-1'].delayMs")
        title = browser.evaluate("() => document.querySelector('.tile').title")

        publisher.objects = False  # the edge now sees nothing: nothing is drawn
        time.sleep(2.5)
        take_samples(browser)
        time.sleep(1.0)
        empty = take_samples(browser)
    finally:
        publisher.stop()
    return Watched(samples, empty, delay, title, publisher.counts.published)


def check_in_step(watched: Watched, name: str) -> None:
    samples = watched.samples
    errors = time_errors_ms(samples)
    away = [s for s in samples if not near_turn(s["index"])]
    drawn = [s for s in away if s["boxes"]]
    result = {**summary(errors), "frames": len(samples), "drawn": len(drawn), "delay_ms": watched.delay}
    result["capture_time_given"] = any(s["captureTime"] is not None for s in samples)  # RTCP SR based, not used
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    assert watched.published >= 20, watched.published
    assert len(samples) >= 45, f"only {len(samples)} frames displayed in 6 s"
    assert len(drawn) >= 0.8 * len(away), f"a box on only {len(drawn)} of {len(away)} frames: {result}"
    assert result["median"] <= TOLERANCE_MEDIAN_MS and result["p95"] <= TOLERANCE_P95_MS, result
    assert str(watched.delay) in watched.title, (
        watched.title
    )  # the tooltip says the video is held back, and by how much
    assert len(watched.empty) >= 10 and all(not s["boxes"] for s in watched.empty), "boxes drawn over an empty scene"


def test_overlay_boxes_follow_the_object_in_the_picture(
    page: Any,
    rtsp_server: RtspServerFactory,
    mqtt_broker: Any,
    pg_database: str,
    tmp_path: Path,
    topic_prefix: str,
) -> None:
    clip = make_indexed_clip(tmp_path / "indexed.264")
    camera = rtsp_server({"cam": clip}, fps=15, user="viewer", password=CAMERA_PASSWORD)
    rtsp_url = camera.url("cam", f"viewer:{CAMERA_PASSWORD}")
    settings = make_settings(pg_database, mqtt_broker.url, write_console_streams(tmp_path, topic_prefix, rtsp_url))
    topic = f"live/{topic_prefix}/cameras/cam-1/detections"
    broker = (mqtt_broker.host, mqtt_broker.port)
    with serve_console(settings) as served:
        watched = watch(
            page, served, lambda: DetectionPublisher(rtsp_url, broker, topic, "cam-1").start(), "overlay-sync"
        )
    check_in_step(watched, "overlay-sync")


def test_overlay_boxes_follow_the_object_on_a_looping_file_camera(
    page: Any,
    mqtt_broker: Any,
    pg_database: str,
    tmp_path: Path,
    topic_prefix: str,
) -> None:
    """A file camera: the server transcodes its own copy and the edge reads its own, both in phase
    with the wall clock, so the edge's detections (stamped loop start + t) match the picture too."""
    clip = make_indexed_clip(tmp_path / "indexed.mp4")
    rtsp_source = '{type: rtsp, url: "rtsp://unused/x"}'
    streams = write_console_streams(tmp_path, topic_prefix, "rtsp://unused/x")
    streams.write_text(streams.read_text().replace(rtsp_source, f'{{type: file, path: "{clip}"}}'), encoding="utf-8")
    assert "type: file" in streams.read_text()
    topic = f"live/{topic_prefix}/cameras/cam-1/detections"
    broker = (mqtt_broker.host, mqtt_broker.port)
    with serve_console(make_settings(pg_database, mqtt_broker.url, streams)) as served:
        watched = watch(
            page, served, lambda: PhasedFilePublisher(str(clip), broker, topic, "cam-1").start(), "overlay-file"
        )
    check_in_step(watched, "overlay-file")
