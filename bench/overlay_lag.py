"""The overlay's time error in a real browser, for bench/live.py (`RESULT overlay_lag_ms`).

A real server (`ioc server`, its own process) with one RTSP camera looping the indexed clip of
tests/server/console/overlay_clip.py (a box moving at 100 px/s, each frame's index drawn in it), an
edge stand-in publishing the true box of 5 pictures a second 150 ms after each picture arrived
(QoS 0, `live/<prefix>/cameras/cam/detections`), and Debian's Chromium (Playwright) showing the
camera. For each displayed frame the index is read from its pixels and the overlay's drawn box
compared with the true box of that frame: position error / speed = time error (median and p95 over
the frames with a box, away from where the box turns). Needs PostgreSQL (as bench/alerts.py),
Mosquitto, python3-gi's RTSP server, ffmpeg and /usr/bin/chromium.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.alerts import bench_database, mosquitto, stop, wait_healthy
from ioc.netutil import free_port, wait_for_port
from tests.server.console.overlay_clip import (
    DetectionPublisher,
    install_sampler,
    make_indexed_clip,
    near_turn,
    summary,
    take_samples,
    time_errors_ms,
)

REPO = Path(__file__).resolve().parents[1]
RTSP_SCRIPT = REPO / "tests" / "fixtures" / "rtsp_server.py"
CHROMIUM = "/usr/bin/chromium"
PREFIX = "bench"
ADMIN = "admin"
FLAGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required", "--no-first-run"]


def streams_yaml(rtsp_url: str) -> str:
    return f"""version: 1
mqtt: {{topic_prefix: {PREFIX}, shared_group: null}}
sites: [{{id: s1, name: Site 1}}]
edge_workers: [{{id: edge-1}}]
cameras:
  - {{id: cam, name: Cam, site: s1, worker: edge-1, source: {{type: rtsp, url: "{rtsp_url}"}}}}
"""


@contextlib.contextmanager
def rtsp_camera(clip: Path) -> Iterator[str]:
    port = free_port()
    command = ["/usr/bin/python3", str(RTSP_SCRIPT), "--port", str(port), "--fps", "15", "--mount", f"cam={clip}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"rtsp://127.0.0.1:{port}/cam"
    finally:
        stop(process)


@contextlib.contextmanager
def server(workdir: Path, database_url: str, broker_port: int, rtsp_url: str, password: str) -> Iterator[str]:
    config = workdir / "streams.yaml"
    config.write_text(streams_yaml(rtsp_url), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "IOC_DATABASE_URL": database_url,
        "IOC_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "IOC_CONFIG": str(config),
        "IOC_HOST": "127.0.0.1",
        "IOC_PORT": str(port),
        "IOC_MQTT_CLIENT_ID": f"bench-{uuid.uuid4().hex[:8]}",
        "IOC_AUTH_BOOTSTRAP_ADMIN": ADMIN,
        "IOC_AUTH_BOOTSTRAP_PASSWORD": password,
        "IOC_LIVE_HOST_ADDRESSES": '["127.0.0.1"]',
    }
    log = (workdir / "server.log").open("wb")
    command = [sys.executable, "-m", "ioc.cli", "server", "--log-level", "WARNING"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, workdir / "server.log")
        yield base
    finally:
        stop(process)
        log.close()


def watch(base: str, password: str, rtsp_url: str, broker_port: int, seconds: float) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(base)
        page.fill("#login-user", ADMIN)
        page.fill("#login-pass", password)
        page.click("#login-submit")
        page.wait_for_function("() => document.querySelector('.tile video')?.videoWidth > 0", timeout=30000)
        page.wait_for_function("() => Overlay.views['cam']?.clock && Overlay.views['cam']?.video", timeout=10000)
        install_sampler(page, "cam")
        topic = f"live/{PREFIX}/cameras/cam/detections"
        publisher = DetectionPublisher(rtsp_url, ("127.0.0.1", broker_port), topic, "cam").start()
        try:
            page.wait_for_function("() => Overlay.views['cam'].delayMs > 0", timeout=15000)
            time.sleep(2.0)
            take_samples(page)
            time.sleep(seconds)
            samples = take_samples(page)
        finally:
            publisher.stop()
            browser.close()
    return samples


def measure_overlay_lag(workdir: Path, seconds: float) -> dict[str, float]:
    """{"median", "p95" (ms), "count", "drawn_pct"}: the overlay's time error over `seconds`."""
    password = uuid.uuid4().hex
    clip = make_indexed_clip(workdir / "indexed.264")
    with (
        bench_database() as database_url,
        mosquitto(workdir) as broker_port,
        rtsp_camera(clip) as rtsp_url,
        server(workdir, database_url, broker_port, rtsp_url, password) as base,
    ):
        samples = watch(base, password, rtsp_url, broker_port, seconds)
    away = [s for s in samples if not near_turn(s["index"])]
    drawn = [s for s in away if s["boxes"]]
    errors = time_errors_ms(samples)
    if not errors:
        raise SystemExit(f"bench/overlay_lag.py: no box drawn over {len(samples)} displayed frames")
    return {**summary(errors), "drawn_pct": 100.0 * len(drawn) / max(1, len(away))}
